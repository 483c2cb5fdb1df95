// An account as the connect flow hands it over, sealed into the row the repository writes. The
// sealing happens before any transaction: it may need a query to load the project's data key,
// and nothing that waits may run while a transaction holds its connection.
import type { EnvironmentName } from '../db/types.ts';
import type { Vault } from '../keys/vault.ts';
import type { NewAccountRow, ReplacedCredentials } from './account.repository.ts';
import { sealAccountSecrets, type AccountLocation, type CredentialValues } from './account-secrets.ts';
import { DEFAULT_REFRESH_MARGIN_SECONDS } from './token-schedule.ts';

export interface StoredCredentials {
  credentials: CredentialValues;
  refreshToken: string | null;
  authorizedScopes: string[];
  expiresAt: Date | null;
  /** Overrides the margin before expiry (the refresher's jittered plan, a refresh token's idle keep-alive). */
  nextRefreshAt?: Date | null;
}

export interface NewAccount extends StoredCredentials {
  id: string;
  projectId: string;
  environment: EnvironmentName;
  /** latchkey's row id of the end user (external_users.id). */
  externalUserId: string;
  /** The customer's id of the end user. */
  externalId: string;
  appSlug: string;
  oauthAppId: string | null;
  name: string | null;
}

/** Without a plan of the refresher's: renew at the default margin before expiry. */
function plannedRefresh(stored: StoredCredentials): Date | null {
  if (stored.nextRefreshAt !== undefined) return stored.nextRefreshAt;
  return stored.expiresAt === null ? null : new Date(stored.expiresAt.getTime() - DEFAULT_REFRESH_MARGIN_SECONDS * 1000);
}

export async function sealNewAccount(vault: Vault, account: NewAccount): Promise<NewAccountRow> {
  return {
    id: account.id,
    project_id: account.projectId,
    environment: account.environment,
    external_user_id: account.externalUserId,
    external_id: account.externalId,
    app_slug: account.appSlug,
    oauth_app_id: account.oauthAppId,
    name: account.name,
    ...(await sealAccountSecrets(vault, account, { credentials: account.credentials, refreshToken: account.refreshToken })),
    authorized_scopes: JSON.stringify(account.authorizedScopes),
    expires_at: account.expiresAt,
    next_refresh_at: plannedRefresh(account),
  };
}

/** Reconnect: the new credentials of an existing account (`name` undefined keeps its name). */
export async function sealReplacement(
  vault: Vault,
  account: AccountLocation & { name?: string | null | undefined },
  stored: StoredCredentials,
): Promise<ReplacedCredentials> {
  return {
    ...(await sealAccountSecrets(vault, account, { credentials: stored.credentials, refreshToken: stored.refreshToken })),
    authorized_scopes: JSON.stringify(stored.authorizedScopes),
    expires_at: stored.expiresAt,
    next_refresh_at: plannedRefresh(stored),
    name: account.name,
  };
}
