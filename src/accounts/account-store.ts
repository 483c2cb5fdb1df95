// How an account's secrets are stored. credentials_enc seals a JSON object of every credential
// the API returns except the refresh token (oauth_access_token, oauth_client_id, api_key,
// subdomain, instance_url, …); refresh_token_enc seals the refresh token alone. Each is bound to
// its row and column, so a ciphertext copied to another account or column fails to open.
import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';
import type { SealContext, Vault } from '../keys/vault.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type CredentialValues = Record<string, string>;

export const DEFAULT_REFRESH_MARGIN_SECONDS = 300;

export function credentialsContext(accountId: string): SealContext {
  return { table: 'accounts', column: 'credentials_enc', rowId: accountId };
}

export function refreshTokenContext(accountId: string): SealContext {
  return { table: 'accounts', column: 'refresh_token_enc', rowId: accountId };
}

export async function sealCredentials(vault: Vault, projectId: string, accountId: string, credentials: CredentialValues): Promise<Buffer> {
  return vault.seal(projectId, credentialsContext(accountId), JSON.stringify(credentials));
}

export async function sealRefreshToken(vault: Vault, projectId: string, accountId: string, refreshToken: string | null | undefined): Promise<Buffer | null> {
  if (refreshToken === undefined || refreshToken === null || refreshToken === '') return null;
  return vault.seal(projectId, refreshTokenContext(accountId), refreshToken);
}

export async function openCredentials(vault: Vault, accountId: string, sealed: Buffer): Promise<CredentialValues> {
  return JSON.parse((await vault.open(credentialsContext(accountId), sealed)).toString('utf8')) as CredentialValues;
}

export async function openRefreshToken(vault: Vault, accountId: string, sealed: Buffer | null): Promise<string | null> {
  return sealed === null ? null : (await vault.open(refreshTokenContext(accountId), sealed)).toString('utf8');
}

/** When the background refresher should renew a token: the margin before expiry. */
export function nextRefreshAt(expiresAt: Date | null, marginSeconds = DEFAULT_REFRESH_MARGIN_SECONDS): Date | null {
  return expiresAt === null ? null : new Date(expiresAt.getTime() - marginSeconds * 1000);
}

/** Columns that end a refresh attempt: the lease is free and no attempt is on record. */
export const NO_REFRESH_IN_FLIGHT = {
  refresh_lease_owner: null,
  refresh_lease_until: null,
  refresh_attempt_id: null,
  refresh_attempt_started_at: null,
} as const;

/** Columns of an account whose credentials just proved good (a refresh or a reconnect). */
export const HEALTHY_ACCOUNT = {
  healthy: true,
  dead: false,
  error: null,
  refresh_failures: 0,
  refresh_backoff_until: null,
} as const;

export interface StoredCredentials {
  credentials: CredentialValues;
  refreshToken: string | null;
  authorizedScopes: string[];
  expiresAt: Date | null;
  /** Override of nextRefreshAt(expiresAt) (e.g. the idle keep-alive of a refresh token). */
  nextRefreshAt?: Date | null;
}

export interface NewAccount extends StoredCredentials {
  id: string;
  projectId: string;
  environment: EnvironmentName;
  externalUserId: string;
  externalId: string;
  appSlug: string;
  oauthAppId: string | null;
  name: string | null;
}

export async function insertAccount(db: Db, vault: Vault, account: NewAccount): Promise<void> {
  await db
    .insertInto('accounts')
    .values({
      id: account.id,
      project_id: account.projectId,
      environment: account.environment,
      external_user_id: account.externalUserId,
      external_id: account.externalId,
      app_slug: account.appSlug,
      oauth_app_id: account.oauthAppId,
      name: account.name,
      credentials_enc: await sealCredentials(vault, account.projectId, account.id, account.credentials),
      refresh_token_enc: await sealRefreshToken(vault, account.projectId, account.id, account.refreshToken),
      authorized_scopes: JSON.stringify(account.authorizedScopes),
      expires_at: account.expiresAt,
      next_refresh_at: account.nextRefreshAt === undefined ? nextRefreshAt(account.expiresAt) : account.nextRefreshAt,
      last_refreshed_at: null,
    })
    .execute();
}

/**
 * Reconnect: replaces the credentials of an existing account in place and clears its failure
 * state. Only the account's own user, app and environment may do this (the caller checks).
 */
export async function replaceAccountCredentials(
  db: Db,
  vault: Vault,
  account: { id: string; projectId: string; name?: string | null },
  stored: StoredCredentials,
): Promise<void> {
  await db
    .updateTable('accounts')
    .set({
      credentials_enc: await sealCredentials(vault, account.projectId, account.id, stored.credentials),
      refresh_token_enc: await sealRefreshToken(vault, account.projectId, account.id, stored.refreshToken),
      credentials_version: sql`credentials_version + 1`,
      authorized_scopes: JSON.stringify(stored.authorizedScopes),
      expires_at: stored.expiresAt,
      next_refresh_at: stored.nextRefreshAt === undefined ? nextRefreshAt(stored.expiresAt) : stored.nextRefreshAt,
      ...HEALTHY_ACCOUNT,
      ...NO_REFRESH_IN_FLIGHT,
      updated_at: sql`now()`,
      ...(account.name === undefined ? {} : { name: account.name }),
    })
    .where('id', '=', account.id)
    .execute();
}
