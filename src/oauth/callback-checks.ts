// The checks a callback must pass before we spend its code, each a named step (after
// panva/oauth4webapi's validateAuthResponse). Any failure means no token request is made.
import { digestsEqual } from '../crypto/tokens.ts';
import { ConnectFlowError, flowError } from '../errors.ts';
import { isCookieNonceShaped, isStateShaped } from './state.ts';

export interface CallbackQuery {
  readonly state?: string;
  readonly code?: string;
  readonly iss?: string;
  readonly error?: string;
  readonly error_description?: string;
  readonly [param: string]: string | undefined;
}

/** RFC 6749 §10.12: no browser binding cookie, no exchange. Checked before any database access. */
export function requireBindingCookie(cookie: string | undefined): string {
  if (!isCookieNonceShaped(cookie)) throw flowError('state_invalid', new Error('callback without the binding cookie'));
  return cookie;
}

export function requireState(query: CallbackQuery): string {
  if (query.state === undefined || !isStateShaped(query.state)) throw flowError('state_invalid', new Error('callback without a well-formed state'));
  return query.state;
}

/** The state was issued to the browser presenting this cookie (not to an attacker's session). */
export function checkBrowserBinding(storedCookieDigest: Buffer, presentedCookieDigest: Buffer): void {
  if (!digestsEqual(storedCookieDigest, presentedCookieDigest)) throw flowError('state_invalid', new Error('binding cookie does not match the state'));
}

export function checkStateNotExpired(expiresAt: Date, now: Date): void {
  if (expiresAt.getTime() <= now.getTime()) throw flowError('state_expired');
}

/**
 * RFC 9207 §2.4: when an issuer is expected (declared by the registry entry), the response must
 * carry exactly it; a response that carries `iss` anyway must match what we expect of it (the
 * declared issuer, else the authorization server's origin). Mix-up defence: runs on error
 * responses too, and before any token request.
 */
export function checkIssuer(query: CallbackQuery, expected: { declared: string | null; fallback: string }): void {
  const presented = query.iss;
  if (presented === undefined) {
    if (expected.declared !== null) throw flowError('issuer_mismatch', new Error('iss missing from the authorization response'));
    return;
  }
  if (presented !== (expected.declared ?? expected.fallback)) throw flowError('issuer_mismatch', new Error('iss does not match the expected issuer'));
}

/** RFC 6749 §4.1.2.1: the user said no, or the provider could not authorize. */
export function checkAuthorizationError(query: CallbackQuery): void {
  if (query.error === undefined) return;
  const code = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(query.error) ? query.error : 'invalid';
  if (code === 'access_denied') throw flowError('access_denied');
  throw new ConnectFlowError('provider_error', { cause: new Error(`authorization error ${code}`) });
}

/** The code, under `code` or the parameter the registry entry names (Amazon SP-API's `spapi_oauth_code`). */
export function requireCode(query: CallbackQuery, param = 'code'): string {
  const code = query[param];
  if (code === undefined || code === '' || code.length > 4096) {
    throw new ConnectFlowError('provider_error', { cause: new Error(`authorization response without a code in ${param}`) });
  }
  return code;
}
