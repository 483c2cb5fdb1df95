// The Account object of Pipedream's API (what @pipedream/sdk parses), built from a row and the
// app's one view (apps/app-view.ts): API responses and ACCOUNT_* webhooks carry the same object.
// Credentials only appear when the caller asked for them and may see them.
import { Type } from '@sinclair/typebox';
import { AppSchema, type AppView } from '../apps/app-view.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import { withPipedreamOAuth1Names } from '../registry/oauth1-entry.ts';
import type { RegistryApp } from '../registry/registry.ts';
import type { AccountRow } from './account.repository.ts';
import type { CredentialValues } from './account-secrets.ts';

const DATE_OR_NULL = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const AccountCredentialsSchema = Type.Object(
  {
    oauth_access_token: Type.Optional(Type.String()),
    oauth_refresh_token: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    oauth_client_id: Type.Optional(Type.String()),
    oauth_uid: Type.Optional(Type.String()),
    expires_at: Type.Optional(DATE_OR_NULL),
  },
  { additionalProperties: Type.Union([Type.String(), Type.Null()]), description: 'Secrets: the OAuth tokens, or the fields of a keys app (api_key, …)' },
);

export const AccountSchema = Type.Object(
  {
    id: Type.String({ description: 'apn_…' }),
    name: Type.Union([Type.String(), Type.Null()]),
    external_id: Type.String({ description: "The end user's id in your system" }),
    healthy: Type.Boolean({ description: 'false: the last refresh failed for a reason that may pass (retry later)' }),
    dead: Type.Boolean({ description: 'true: the provider no longer accepts the grant; only a reconnect helps' }),
    app: AppSchema,
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
    authorized_scopes: Type.Array(Type.String()),
    expires_at: DATE_OR_NULL,
    last_refreshed_at: DATE_OR_NULL,
    next_refresh_at: DATE_OR_NULL,
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the credentials were last read (to within 5 minutes; written in batches, so a read shows up within a minute)',
    }),
    error: Type.Union([Type.String(), Type.Null()]),
    credentials: Type.Optional(AccountCredentialsSchema),
  },
  { $id: 'Account' },
);

export interface AccountView {
  id: string;
  name: string | null;
  external_id: string;
  healthy: boolean;
  dead: boolean;
  app: AppView;
  created_at: string;
  updated_at: string;
  authorized_scopes: string[];
  expires_at: string | null;
  last_refreshed_at: string | null;
  next_refresh_at: string | null;
  last_used_at: string | null;
  error: string | null;
  credentials?: Record<string, string | null>;
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export function toAccountView(row: AccountRow, app: AppView, credentials?: Record<string, string | null>): AccountView {
  const view: AccountView = {
    id: row.id,
    name: row.name,
    external_id: row.external_id,
    healthy: row.healthy,
    dead: row.dead,
    app,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    authorized_scopes: row.authorized_scopes,
    expires_at: iso(row.expires_at),
    last_refreshed_at: iso(row.last_refreshed_at),
    next_refresh_at: iso(row.next_refresh_at),
    last_used_at: iso(row.last_used_at),
    error: row.error,
  };
  if (credentials !== undefined) view.credentials = credentials;
  return view;
}

/** The credentials object: the sealed values plus the refresh token and the expiry. */
export function credentialsView(
  row: AccountRow,
  values: Readonly<CredentialValues>,
  refreshToken: string | null,
  app: RegistryApp | undefined,
): Record<string, string | null> {
  const current = app === undefined ? { ...values } : currentCredentialValues(app, values);
  if (app?.auth_type === 'oauth1') return withPipedreamOAuth1Names(current);
  if (app !== undefined && app.auth_type !== 'oauth' && app.auth_type !== 'mcp') return current;
  return { ...current, oauth_refresh_token: refreshToken, expires_at: iso(row.expires_at) };
}
