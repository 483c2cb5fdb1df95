// The one entry point of the machine grants: the connect flow mints the first token with it,
// the refresher re-mints stale ones. Which grant module runs is the registry entry's choice.
import { mintClientCredentialsToken, type MintRequest } from './client-credentials-grant.ts';
import { mintJwtBearerToken } from './jwt-bearer-grant.ts';
import type { MintOutcome } from './machine-token-request.ts';

export type { MintRequest, OperatorClient } from './client-credentials-grant.ts';
export type { MintOutcome } from './machine-token-request.ts';

export function mintMachineToken(request: MintRequest): Promise<MintOutcome> {
  switch (request.app.oauth.grant) {
    case 'client_credentials':
      return mintClientCredentialsToken(request);
    case 'jwt_bearer':
      return mintJwtBearerToken(request);
    case 'authorization_code':
      // Not a machine grant: the connect flow and the refresher never send one here.
      return Promise.resolve({ kind: 'refused', status: 0, code: 'not_a_machine_grant' });
  }
}

/** Whether the entry mints its tokens itself (no authorization step, no refresh token). */
export function isMachineGrant(oauth: { readonly grant: string }): boolean {
  return oauth.grant === 'client_credentials' || oauth.grant === 'jwt_bearer';
}
