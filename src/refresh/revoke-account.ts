// Revocation at the provider when an account is deleted (RFC 7009 §2.1): the refresh token
// (which, per §2.1, revokes the grant's access tokens too where the provider supports it), else
// the access token. Best effort: a failure is logged without any secret, and the caller deletes
// the account locally whatever the answer.
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { Vault } from '../keys/vault.ts';
import { resolveOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import type { AppRegistry } from '../registry/registry.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import { fillTemplate } from '../registry/templates.ts';
import type { AccountRow } from '../accounts/account.repository.ts';
import { openAccountSecrets } from '../accounts/account-secrets.ts';
import type { LogSink } from './refresher.ts';
import { requestRevocation, type TokenEgress } from './token-endpoint.ts';
import { revokeOAuth1Account } from './revoke-oauth1-account.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { storedTarget } from '../mcp/mcp-clients.service.ts';

export const REVOKE_TIMEOUT_MS = 5_000;
const RETRY_DELAY_MS = 500;

export interface RevokeDeps {
  db: Kysely<Database>;
  vault: Vault;
  registry: AppRegistry;
  /** The only way to the revocation endpoint (OAuth 1.0a revocations use its plain requests). */
  egress: TokenEgress & Pick<EgressGuard, 'request'>;
  logger?: LogSink | undefined;
  revokeTimeoutMs?: number | undefined;
}

export type RevokeResult = 'revoked' | 'not_supported' | 'failed';

export async function revokeAccountAtProvider(deps: RevokeDeps, row: AccountRow): Promise<RevokeResult> {
  const registered = deps.registry.get(row.app_slug);
  if (registered?.auth_type === 'oauth1') return revokeOAuth1Account(deps, row, registered, deps.revokeTimeoutMs ?? REVOKE_TIMEOUT_MS);
  // A remote MCP server: its authorization server's revocation endpoint, with the client stored for it.
  const mcp =
    registered?.auth_type === 'mcp'
      ? await storedTarget(deps, { projectId: row.project_id, environment: row.environment }, registered, row.oauth_app_id).catch(() => undefined)
      : undefined;
  const app = mcp?.app ?? registered;
  if (app === undefined || app.auth_type !== 'oauth' || app.oauth.revoke_url === undefined) return 'not_supported';
  const warn = (reason: string): RevokeResult => {
    deps.logger?.warn({ accountId: row.id, app: app.slug, reason }, 'revocation at the provider failed; the account is deleted locally anyway');
    return 'failed';
  };
  try {
    const opened = await openAccountSecrets(deps.vault, row);
    const accessToken = opened.values['oauth_access_token'];
    const token = opened.refreshToken ?? accessToken;
    if (token === undefined || token === '') return 'not_supported';
    const client = mcp?.client ?? (await resolveOAuthClient(deps.db, deps.vault, row.project_id, row.app_slug, row.oauth_app_id));
    if (client === undefined) return warn('the oauth app no longer exists');
    const request = {
      oauth: app.oauth,
      url: new URL(fillTemplate(app.oauth.revoke_url, currentCredentialValues(app, opened.values), 'url')),
      client,
      token,
      tokenTypeHint: opened.refreshToken === null ? ('access_token' as const) : ('refresh_token' as const),
      timeoutMs: deps.revokeTimeoutMs ?? REVOKE_TIMEOUT_MS,
      egress: deps.egress,
    };
    let result = await requestRevocation(request);
    // §2.2.1: 503 means "try again later"; once, shortly, then give up (the delete must finish).
    if (!result.ok && result.retryable) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      result = await requestRevocation(request);
    }
    return result.ok ? 'revoked' : warn(result.reason);
  } catch (err) {
    return warn(err instanceof Error ? err.name : 'unexpected error');
  }
}
