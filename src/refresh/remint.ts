// Re-minting a machine grant's token (client credentials, JWT bearer) under the refresher's
// lease: the refresher calls this where an authorization-code account would send its refresh
// token, and settles the answer through the same fenced commit, dead marking and backoff. The
// inputs are the account's sealed fields (the entered client or key), opened by the refresher;
// an entry on the project's OAuth app resolves that client first.
import type { AccountRow } from '../accounts/account.repository.ts';
import type { Vault } from '../keys/vault.ts';
import { mintMachineToken, type MintOutcome, type OperatorClient } from '../oauth/machine-grant.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { RecentOAuthClients } from '../oauth-apps/oauth-apps.service.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import type { RegistryOAuthApp } from '../registry/registry.ts';

export type RemintResult = MintOutcome | { readonly kind: 'oauth_app_missing' };

export interface RemintDeps {
  readonly vault: Vault;
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly oauthClients: RecentOAuthClients;
  readonly tuning: { readonly providerTimeoutMs: number; readonly maxResponseBytes: number };
  readonly now: Date;
}

export async function remint(deps: RemintDeps, row: AccountRow, app: RegistryOAuthApp, stored: Readonly<Record<string, string>>): Promise<RemintResult> {
  let operatorClient: OperatorClient | undefined;
  if (app.oauth.client === 'oauth_app') {
    const client = await deps.oauthClients.resolve(row.project_id, row.app_slug, row.oauth_app_id);
    if (client === undefined || (row.oauth_app_id !== null && client.id !== row.oauth_app_id)) return { kind: 'oauth_app_missing' };
    operatorClient = client;
  }
  // Load the project's data key now, so sealing the answer needs no query between it and the commit.
  await deps.vault.loadProjectKey(row.project_id);
  return mintMachineToken({
    app,
    values: currentCredentialValues(app, stored),
    operatorClient,
    // The scopes the account was connected with (what the first mint asked for).
    scopes: row.authorized_scopes.length > 0 ? row.authorized_scopes : app.oauth.scopes,
    egress: deps.egress,
    now: deps.now,
    timeoutMs: deps.tuning.providerTimeoutMs,
    maxBytes: deps.tuning.maxResponseBytes,
  });
}
