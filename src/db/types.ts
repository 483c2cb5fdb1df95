// Table types, as Kysely sees them. Only the Database interface is exported for queries;
// each feature's repository selects from it.
import type { ColumnType, RawBuilder } from 'kysely';

/** A jsonb column: read as T, written as its JSON text (pg and PGlite both parse jsonb on read). */
type Json<T> = ColumnType<T, string, string>;

/** Insert may omit it (the column has a default). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** A nullable column an insert may omit (it is null then). */
type Optional<T> = ColumnType<T | null, T | null | undefined, T | null>;

export type EnvironmentName = 'development' | 'production';

/** accounts.error_code: why an account failed (its human text is accounts.error). */
export type AccountErrorCode =
  | 'grant_revoked'
  | 'grant_lost_in_interrupted_refresh'
  | 'expired_without_refresh_token'
  | 'client_rejected'
  | 'oauth_app_missing'
  | 'provider_unavailable'
  | 'test_request_failed'
  /** A machine grant's re-mint was refused (invalid_client, unauthorized_client, invalid_grant): the entered client or key no longer works. */
  | 'credentials_rejected';

export interface Database {
  projects: {
    id: string;
    name: string;
    /** Origins the connect tokens' redirect URIs may point at; null: no list (src/connect/redirect-allow-list.ts). */
    allowed_redirect_origins: ColumnType<string[] | null, string | null | undefined, string | null>;
    created_at: Timestamp;
    app_name: Optional<string>;
    support_email: Optional<string>;
    privacy_url: Optional<string>;
    terms_url: Optional<string>;
    logo: Optional<Buffer>;
    logo_type: Optional<string>;
  };
  environments: {
    project_id: string;
    name: EnvironmentName;
    webhook_url: string | null;
    webhook_signing_key_enc: Buffer | null;
    /** Set when the key was shown (created for a webhook, or rotated); a key is never shown twice. */
    webhook_signing_key_revealed_at: NullableTimestamp;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  data_keys: {
    id: string;
    project_id: string | null;
    kek_id: string;
    wrapped_key: Buffer;
    created_at: Timestamp;
    rewrapped_at: NullableTimestamp;
  };
  api_clients: {
    id: string;
    project_id: string;
    name: string;
    scopes: string;
    secret_hash: string;
    /** The one environment the client may act in; null: both. */
    environment: EnvironmentName | null;
    created_at: Timestamp;
    revoked_at: NullableTimestamp;
  };
  api_access_tokens: {
    digest: Buffer;
    client_id: string;
    project_id: string;
    scopes: string;
    expires_at: Timestamp;
    created_at: Timestamp;
  };
  external_users: {
    id: string;
    project_id: string;
    environment: EnvironmentName;
    external_id: string;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  connect_tokens: {
    digest: Buffer;
    /** Public identifier (`ctid_…`) for webhooks and logs; the token itself is never stored. */
    id: string;
    project_id: string;
    environment: EnvironmentName;
    external_user_id: string;
    success_redirect_uri: string | null;
    error_redirect_uri: string | null;
    webhook_uri: string | null;
    allowed_origins: Json<string[]>;
    app_slug: string | null;
    oauth_app_id: string | null;
    expires_at: Date;
    used_at: NullableTimestamp;
    /** Key-form submissions with well-formed values so far (each sends the test request). */
    key_form_attempts: ColumnType<number, number | undefined, number>;
    /** Set with used_at when the attempts ran out. */
    burned_at: NullableTimestamp;
    /** A reconnect may come back as another provider user (tokens.create allow_different_account). */
    allow_different_account: ColumnType<boolean, boolean | undefined, boolean>;
    created_at: Timestamp;
  };
  oauth_apps: {
    id: string;
    project_id: string;
    app_slug: string;
    name: string | null;
    client_id: string;
    client_secret_enc: Buffer;
    scopes: Json<string[]> | null;
    description: string | null;
    additional_scopes: Json<string[]> | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  mcp_clients: {
    id: string;
    project_id: string;
    environment: EnvironmentName;
    issuer: string;
    registration: 'dynamic' | 'client_id_metadata_document' | 'preregistered';
    registration_key: string;
    oauth_app_id: string | null;
    client_id: string | null;
    client_secret_enc: Buffer | null;
    token_auth_method: 'client_secret_basic' | 'client_secret_post' | 'none';
    authorization_endpoint: string;
    token_endpoint: string;
    /** RFC 7009, when the authorization server offers it: used when an account is deleted. */
    revocation_endpoint: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  oauth_states: {
    digest: Buffer;
    cookie_digest: Buffer;
    connect_token_digest: Buffer;
    project_id: string;
    environment: EnvironmentName;
    external_user_id: string;
    app_slug: string;
    oauth_app_id: string;
    account_id: string | null;
    redirect_uri: string;
    issuer: string | null;
    code_verifier_enc: Buffer | null;
    fields_enc: Buffer | null;
    expires_at: Date;
    created_at: Timestamp;
  };
  accounts: {
    id: string;
    project_id: string;
    environment: EnvironmentName;
    external_user_id: string;
    external_id: string;
    app_slug: string;
    oauth_app_id: string | null;
    name: string | null;
    credentials_enc: Buffer;
    refresh_token_enc: Buffer | null;
    credentials_version: ColumnType<string, string | number | undefined, string | number | RawBuilder<unknown>>;
    authorized_scopes: Json<string[]>;
    expires_at: Date | null;
    healthy: ColumnType<boolean, boolean | undefined, boolean>;
    dead: ColumnType<boolean, boolean | undefined, boolean>;
    error: string | null;
    error_code: AccountErrorCode | null;
    last_refreshed_at: NullableTimestamp;
    next_refresh_at: NullableTimestamp;
    refresh_failures: ColumnType<number, number | undefined, number | RawBuilder<unknown>>;
    refresh_backoff_until: NullableTimestamp;
    refresh_lease_owner: string | null;
    refresh_lease_until: NullableTimestamp;
    refresh_attempt_id: string | null;
    refresh_attempt_started_at: NullableTimestamp;
    /** The last test request of the account (POST …/test or the scheduled check of a keys app). */
    last_checked_at: NullableTimestamp;
    /** When the scheduled check runs next (null: at the next round). */
    next_check_at: NullableTimestamp;
    /** When the credentials were last read or proxied through, to USAGE_GRANULARITY_MS (account-usage.ts). */
    last_used_at: NullableTimestamp;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  connect_results: {
    /** Opaque (`cres_…`); the result page's URL. */
    id: string;
    project_id: string;
    environment: EnvironmentName;
    connect_token_id: string;
    app_slug: string;
    outcome: 'success' | 'error';
    account_id: string | null;
    error: string | null;
    allowed_origins: Json<string[]>;
    expires_at: Date;
    created_at: Timestamp;
  };
  webhook_outbox: {
    id: string;
    project_id: string;
    environment: EnvironmentName;
    url: string;
    event: string;
    payload: Json<Record<string, unknown>>;
    attempts: ColumnType<number, number | undefined, number | RawBuilder<unknown>>;
    next_attempt_at: Timestamp;
    locked_until: NullableTimestamp;
    delivered_at: NullableTimestamp;
    failed_at: NullableTimestamp;
    last_error: string | null;
    created_at: Timestamp;
  };
  audit_log: {
    id: ColumnType<string, never, never>;
    at: Timestamp;
    project_id: string | null;
    environment: string | null;
    actor: string;
    action: string;
    account_id: string | null;
    result: string;
    details: Json<Record<string, unknown>> | null;
  };
  project_secrets: {
    project_id: string;
    environment: EnvironmentName;
    name: string;
    value_enc: Buffer;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
}
