// Revocation of an OAuth 1.0a account's token credentials when the account is deleted, where the
// entry names an endpoint (X's POST oauth/invalidate_token: "User context with the access tokens
// that you would like to invalidate"): one POST signed with the consumer and token credentials,
// through the egress guard, no redirects, a deadline. Best effort, as for OAuth 2.0: the caller
// deletes the account whatever the answer, and a failure is logged without any value.
import { signRequest } from '../crypto/oauth1-signature.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { resolveOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import { fillRealm } from '../registry/oauth1-entry.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import type { RegistryOAuth1App } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import type { AccountRow } from '../accounts/account.repository.ts';
import { openAccountSecrets } from '../accounts/account-secrets.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { Vault } from '../keys/vault.ts';
import type { LogSink } from './refresher.ts';

export interface OAuth1RevokeDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly logger?: LogSink | undefined;
}

type RevokeResult = 'revoked' | 'not_supported' | 'failed';

export async function revokeOAuth1Account(deps: OAuth1RevokeDeps, row: AccountRow, app: RegistryOAuth1App, timeoutMs: number): Promise<RevokeResult> {
  const revokeUrl = app.oauth1.revoke_url;
  if (revokeUrl === undefined) return 'not_supported';
  const warn = (reason: string): RevokeResult => {
    deps.logger?.warn({ accountId: row.id, app: app.slug, reason }, 'revocation at the provider failed; the account is deleted locally anyway');
    return 'failed';
  };
  try {
    const values = currentCredentialValues(app, (await openAccountSecrets(deps.vault, row)).values);
    const token = values['oauth_token'];
    const tokenSecret = values['oauth_token_secret'];
    if (typeof token !== 'string' || token === '' || typeof tokenSecret !== 'string') return 'not_supported';
    const client = await resolveOAuthClient(deps.db, deps.vault, row.project_id, row.app_slug, row.oauth_app_id);
    if (client === undefined) return warn('the oauth app no longer exists');
    const url = new URL(fillTemplate(revokeUrl, values, 'url'));
    const realm = fillRealm(app.oauth1.realm, values);
    const authorization = signRequest(
      { consumerKey: client.clientId, consumerSecret: client.clientSecret, token, tokenSecret },
      { method: 'POST', url, signatureMethod: app.oauth1.signature_method, ...(realm === undefined ? {} : { realm }) },
    );
    const response = await deps.egress.request(url, {
      method: 'POST',
      headers: { authorization, 'content-length': '0', 'user-agent': 'latchkey' },
      body: null,
      timeouts: { firstByteMs: timeoutMs, totalMs: timeoutMs },
      maxResponseBytes: 64 * 1024,
    });
    await response.body.dump().catch(() => {});
    return response.statusCode >= 200 && response.statusCode <= 299 ? 'revoked' : warn(`status ${response.statusCode}`);
  } catch (err) {
    return warn(err instanceof Error ? err.name : 'unexpected error');
  }
}
