// The provider user's id (`oauth_uid`) from an OpenID Connect ID token in the token response.
// The token came straight from the token endpoint over the connection the egress guard checked,
// so (OpenID Connect Core §3.1.3.7 step 6) TLS stands in for the signature check; it is used
// only to name the provider's user, never to sign anyone in. Still, a token that another
// issuer or another client could have minted is not taken (steps 2 and 3: iss and aud).
import { Buffer } from 'node:buffer';

export const MAX_SUBJECT_LENGTH = 255;

export interface IdTokenExpectations {
  /** The registry's declared issuer, filled; null when the entry declares none. */
  readonly issuer: string | null;
  readonly clientId: string;
}

/** The `sub` claim, or undefined when there is no ID token or it is not one we can trust to name the user. */
export function subjectOfIdToken(response: Readonly<Record<string, unknown>>, expected: IdTokenExpectations): string | undefined {
  const claims = idTokenClaims(response['id_token']);
  if (claims === undefined) return undefined;
  if (expected.issuer !== null && claims['iss'] !== expected.issuer) return undefined;
  if (!audienceIncludes(claims['aud'], expected.clientId)) return undefined;
  const sub = claims['sub'];
  // §2: sub is at most 255 ASCII characters; control characters would end up in headers.
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUBJECT_LENGTH || !/^[\x20-\x7e]+$/.test(sub)) return undefined;
  return sub;
}

function idTokenClaims(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'string' || raw.length > 16 * 1024) return undefined;
  const parts = raw.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function audienceIncludes(aud: unknown, clientId: string): boolean {
  if (typeof aud === 'string') return aud === clientId;
  return Array.isArray(aud) && aud.includes(clientId);
}
