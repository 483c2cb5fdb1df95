// Checks for the URIs a backend hands us with a connect token (success/error redirects, webhook)
// and for the origins allowed to embed the Connect page. The rules are stricter than WHATWG URL
// parsing on purpose: the parser "fixes" `https:\\evil.com`, `https:evil.com` and `//evil.com`
// into absolute URLs, which is exactly how open redirects slip through (security catalogue §5,
// item 20). So the raw text must already be a plain `scheme://authority…` before it is parsed.
// A webhook URI is also a destination latchkey itself sends to, so it must pass the egress guard.
import { EgressError, type RefusalReason } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';

export interface UriPolicy {
  /** Production environments accept only https (loopback http excepted when allowed). */
  readonly requireHttps: boolean;
  /** LATCHKEY_INSECURE_LOOPBACK: http://127.0.0.1 / localhost / [::1] pass in production too. */
  readonly allowLoopbackHttp: boolean;
}

export type UriCheck = { ok: true; value: string } | { ok: false; reason: string };

const MAX_URI_LENGTH = 2048;
const ABSOLUTE_HTTP = /^(https?):\/\/([^/?#]*)/i;
// C0/C1 controls, DEL, every Unicode space (incl. NBSP, line/paragraph separators), backslash.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN_CHARS = /[\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u2060\u3000\ufeff\\]/u;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** An absolute http(s) URL without userinfo or fragment; returns the parser's normalised form. */
export function checkRedirectUri(raw: string, policy: UriPolicy): UriCheck {
  const shape = checkShape(raw);
  if (!shape.ok) return shape;
  if (raw.includes('#')) return { ok: false, reason: 'must not contain a fragment' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute http(s) URL' };
  }
  const transport = checkTransport(url, policy);
  if (!transport.ok) return transport;
  return { ok: true, value: url.href };
}

/** Why a webhook URI is refused, for the 400 that names the parameter (security catalogue §5, item 59). */
const WEBHOOK_REFUSALS: Readonly<Partial<Record<RefusalReason, string>>> = {
  invalid_url: 'must be an absolute https URL',
  scheme_not_allowed: 'must use https',
  userinfo_not_allowed: 'must not contain credentials (userinfo)',
  name_single_label: 'must name a public host (a single-label name is local)',
  name_local_only: 'must name a public host (not a local-only name)',
  name_embeds_ip: 'must name a public host (not a name that spells an IP address)',
};

/**
 * A webhook URI (a connect token's `webhook_uri`, the project environment's webhook): the shape
 * rules above, then the egress guard's destination policy in every environment — https only, no
 * IP literal that is not public, no local-only name, and no name that resolves to a non-public
 * address now. Delivery checks again on every connection.
 */
export async function checkWebhookUri(raw: string, egress: EgressGuard): Promise<UriCheck> {
  const shape = checkShape(raw);
  if (!shape.ok) return shape;
  if (raw.includes('#')) return { ok: false, reason: 'must not contain a fragment' };
  try {
    const destination = await egress.vetUrl(raw);
    return { ok: true, value: destination.url.href };
  } catch (err) {
    if (!(err instanceof EgressError)) throw err;
    return { ok: false, reason: webhookRefusal(err.reason) };
  }
}

function webhookRefusal(reason: string): string {
  // An IP literal, or a name whose addresses are not all public: the same answer for both.
  if (reason.startsWith('address_')) return 'must name a public host (not a loopback, private, link-local or metadata address)';
  return WEBHOOK_REFUSALS[reason as RefusalReason] ?? 'must name a public host';
}

/** A bare origin, `scheme://host[:port]` (a trailing slash is tolerated); returns `url.origin`. */
export function checkOrigin(raw: string, policy: UriPolicy): UriCheck {
  const shape = checkShape(raw);
  if (!shape.ok) return shape;
  const withoutSlash = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (/[/?#]/.test(withoutSlash.slice(withoutSlash.indexOf('//') + 2))) return { ok: false, reason: 'must be a bare origin (scheme://host[:port])' };
  let url: URL;
  try {
    url = new URL(withoutSlash);
  } catch {
    return { ok: false, reason: 'must be a bare origin (scheme://host[:port])' };
  }
  const transport = checkTransport(url, policy);
  if (!transport.ok) return transport;
  return { ok: true, value: url.origin };
}

function checkShape(raw: string): UriCheck {
  if (raw.length === 0 || raw.length > MAX_URI_LENGTH) return { ok: false, reason: `must be 1 to ${MAX_URI_LENGTH} characters` };
  if (FORBIDDEN_CHARS.test(raw)) return { ok: false, reason: 'must not contain whitespace, control characters or backslashes' };
  const match = ABSOLUTE_HTTP.exec(raw);
  if (match === null) return { ok: false, reason: 'must be an absolute http(s) URL' };
  const authority = match[2] ?? '';
  // `https://good.com@evil.com` goes to evil.com; `https://@evil.com` has an empty userinfo the
  // parser silently drops — reject any `@` in the authority.
  if (authority.includes('@')) return { ok: false, reason: 'must not contain credentials (userinfo)' };
  if (authority === '') return { ok: false, reason: 'must name a host' };
  return { ok: true, value: raw };
}

function checkTransport(url: URL, policy: UriPolicy): UriCheck {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'must be an absolute http(s) URL' };
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'must not contain credentials (userinfo)' };
  if (url.hostname === '') return { ok: false, reason: 'must name a host' };
  if (policy.requireHttps && url.protocol === 'http:' && !(policy.allowLoopbackHttp && LOOPBACK_HOSTS.has(url.hostname))) {
    return { ok: false, reason: 'must use https in the production environment' };
  }
  return { ok: true, value: url.href };
}
