// Turns a provider's token response into what we store, per the registry entry's
// token_response paths (RFC 6749 §5.1 names by default). A response that does not give us a
// usable bearer token is a `malformed` result, not an account: the connect flow shows it as a
// provider error, the refresher backs off. The problem names no value from the response.
import type { RegistryOAuth } from '../registry/registry.ts';
import { readPath, readString } from './json-path.ts';
import { providerDisplayText, storableProviderText } from './provider-text.ts';

export interface NormalisedTokens {
  readonly accessToken: string;
  readonly refreshToken: string | null;
  readonly expiresAt: Date | null;
  readonly authorizedScopes: string[];
  /** Registry `extra` values (instance_url, team_id, …), kept as credentials. */
  readonly extras: Record<string, string>;
  readonly accountName: string | null;
}

export type TokenResponseResult = { readonly ok: true; readonly tokens: NormalisedTokens } | { readonly ok: false; readonly problem: string };

const malformed = (why: string): TokenResponseResult => ({ ok: false, problem: `token response ${why}` });

export function normaliseTokenResponse(
  oauth: RegistryOAuth,
  response: Record<string, unknown>,
  requestedScopes: readonly string[],
  now: Date,
): TokenResponseResult {
  const paths = oauth.token_response;
  const error = errorInBody(response, paths.error_path);
  if (error !== undefined) return malformed(`carries error ${error}`);

  const accessToken = readPath(response, paths.access_token_path);
  if (typeof accessToken !== 'string' || accessToken.trim() === '') return malformed('has no access token');
  // RFC 6749 §7.1: we only know how to use bearer tokens. Nested token objects (Slack's
  // authed_user) use token_type for other things, so only the standard top-level shape is checked.
  if (paths.access_token_path === 'access_token' && !isBearerOrAbsent(response['token_type'])) return malformed('has a token_type other than bearer');

  const expiry = expiresAt(readPath(response, paths.expires_in_path), oauth.default_expires_in_seconds, now);
  if (expiry === 'invalid') return malformed('has an invalid expires_in');
  const refreshToken = readPath(response, paths.refresh_token_path);
  return {
    ok: true,
    tokens: {
      accessToken,
      refreshToken: typeof refreshToken === 'string' && refreshToken !== '' ? refreshToken : null,
      expiresAt: expiry,
      authorizedScopes: grantedScopes(readPath(response, paths.scope_path), requestedScopes),
      extras: extras(response, paths.extra),
      accountName: paths.account_name_path === undefined ? null : providerDisplayText(readString(response, paths.account_name_path)),
    },
  };
}

/** Slack answers 200 `{ok:false, error}`; others put an RFC 6749 `error` in a 200 body. The code, when it is one. */
function errorInBody(response: Record<string, unknown>, errorPath: string | undefined): string | undefined {
  const error = readPath(response, errorPath ?? 'error');
  if (error === undefined || error === null || error === false || error === '') return undefined;
  return typeof error === 'string' && /^[\w.-]{1,64}$/.test(error) ? error : 'unknown';
}

function isBearerOrAbsent(tokenType: unknown): boolean {
  if (tokenType === undefined || tokenType === null) return true;
  return typeof tokenType === 'string' && tokenType.trim().toLowerCase() === 'bearer';
}

function expiresAt(raw: unknown, fallbackSeconds: number | undefined, now: Date): Date | null | 'invalid' {
  let seconds: number | undefined;
  if (raw === undefined || raw === null || raw === '') seconds = fallbackSeconds;
  else {
    seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isFinite(seconds) || seconds < 0 || seconds > 10 * 365 * 86400) return 'invalid';
    // 0 is what a few providers send for "does not expire".
    if (seconds === 0) seconds = fallbackSeconds;
  }
  return seconds === undefined ? null : new Date(now.getTime() + Math.floor(seconds) * 1000);
}

/** RFC 6749 §5.1: scope is returned when it differs from the request; absent → what we asked for. */
function grantedScopes(raw: unknown, requested: readonly string[]): string[] {
  // Stored as jsonb: a scope is cleaned like any provider text (RFC 6749 §3.3 allows no control character in one anyway).
  const storable = (scopes: string[]): string[] => scopes.map(storableProviderText).filter((scope) => scope !== '');
  if (Array.isArray(raw)) return storable(raw.filter((scope): scope is string => typeof scope === 'string'));
  // Space per RFC 6749 §3.3; GitHub and Slack answer with commas.
  if (typeof raw === 'string') return storable(raw.split(/[\s,]+/));
  return [...requested];
}

function extras(response: Record<string, unknown>, paths: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, path] of Object.entries(paths)) {
    const value = readString(response, path);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
