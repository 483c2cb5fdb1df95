// `state` binds the provider's callback to the authorization request we made, and the browser
// cookie binds it to the browser that made it (RFC 6749 §10.12, RFC 9700 §4.7): a callback URL
// replayed from another browser, or a victim lured to an attacker's callback URL, has the state
// but not the cookie. Both are stored as SHA-256 digests only.
import { randomBytes } from 'node:crypto';
import { TOKEN_PREFIXES, digestToken, hasValidTokenShape, mintToken } from '../crypto/tokens.ts';

/** ≤ 10 minutes from the click on Connect to the provider's callback. */
export const STATE_TTL_SECONDS = 600;

export function mintState(): { state: string; digest: Buffer } {
  const state = mintToken(TOKEN_PREFIXES.oauthState);
  return { state, digest: digestToken(state) };
}

export function isStateShaped(value: string): boolean {
  return hasValidTokenShape(value, TOKEN_PREFIXES.oauthState);
}

const COOKIE_NONCE = /^[A-Za-z0-9_-]{43}$/;

export interface BrowserBinding {
  readonly cookieName: string;
  readonly secure: boolean;
}

/** `__Host-` (Secure, Path=/, no Domain) when we are served over https; browsers refuse it on http. */
export function browserBinding(publicUrl: string): BrowserBinding {
  const secure = new URL(publicUrl).protocol === 'https:';
  return { cookieName: secure ? '__Host-latchkey_oauth' : 'latchkey_oauth', secure };
}

/** Reuses the browser's current nonce so two flows in two tabs do not overwrite each other's binding. */
export function cookieNonceFor(existing: string | undefined): string {
  return existing !== undefined && COOKIE_NONCE.test(existing) ? existing : randomBytes(32).toString('base64url');
}

export function isCookieNonceShaped(value: string | undefined): value is string {
  return value !== undefined && COOKIE_NONCE.test(value);
}

export function serializeBindingCookie(binding: BrowserBinding, nonce: string): string {
  // SameSite=Lax: sent on the provider's top-level GET redirect back to us, not on cross-site subrequests.
  return [`${binding.cookieName}=${nonce}`, 'Path=/', `Max-Age=${STATE_TTL_SECONDS}`, 'HttpOnly', 'SameSite=Lax', ...(binding.secure ? ['Secure'] : [])].join(
    '; ',
  );
}
