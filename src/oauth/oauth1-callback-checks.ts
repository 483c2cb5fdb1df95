// The OAuth 1.0a callback's own checks (RFC 5849 §2.2), after the shared ones of
// callback-checks.ts (binding cookie, state consumed once, same browser, not expired). Each is
// one refusal; none makes a request.
import { digestToken, digestsEqual } from '../crypto/tokens.ts';
import { ConnectFlowError, flowError } from '../errors.ts';
import type { CallbackQuery } from './callback-checks.ts';

/**
 * The user said no. RFC 5849 defines no denial answer: X sends `denied=<request token>`; others
 * send the user back without a verifier (requireVerifier then says the same).
 */
export function checkNotDenied(query: CallbackQuery): void {
  if (query['denied'] !== undefined) throw flowError('access_denied');
}

/**
 * §2.2: the callback names the request token it authorized; it must be the one this state was
 * issued for, or a verifier for another authorization would be spent on ours. Compared as digests
 * (constant time, any length).
 */
export function checkRequestToken(query: CallbackQuery, expected: string): void {
  const presented = query['oauth_token'];
  if (presented === undefined || presented === '' || presented.length > 4096) {
    throw new ConnectFlowError('provider_error', { cause: new Error('callback without oauth_token') });
  }
  if (!digestsEqual(digestToken(presented), digestToken(expected))) throw flowError('state_invalid', new Error('oauth_token does not match the state'));
}

/** §2.2 oauth_verifier: without it the request token was not authorized. */
export function requireVerifier(query: CallbackQuery): string {
  const verifier = query['oauth_verifier'];
  if (verifier === undefined || verifier === '') throw flowError('access_denied', new Error('callback without oauth_verifier'));
  if (verifier.length > 4096) throw new ConnectFlowError('provider_error', { cause: new Error('oauth_verifier too long') });
  return verifier;
}
