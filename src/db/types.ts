// Table types, as Kysely sees them. Only the Database interface is exported for queries;
// each feature's repository selects from it.
import type { ColumnType } from 'kysely';

/** Insert may omit it (the column has a default). */
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export type EnvironmentName = 'development' | 'production';

export interface Database {
  projects: {
    id: string;
    name: string;
    created_at: Timestamp;
  };
  environments: {
    project_id: string;
    name: EnvironmentName;
    webhook_url: string | null;
    webhook_signing_key_enc: Buffer | null;
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
}
