// Which headers cross the proxy, in each direction.
//
// To the upstream: only what the caller sent as `x-pd-proxy-<name>` (Pipedream's contract; the
// SDK prefixes every header it is given), with the prefix stripped, minus what must never be the
// caller's to set: credentials (authorization, cookies: latchkey puts the account's credential on
// the request, and the caller's own bearer is latchkey's, not the provider's), routing and framing
// (host, content-length, hop-by-hop headers: RFC 9110 §7.6.1, RFC 9112 §6–7) and latchkey's own
// `x-pd-*`. The body's own content-type travels as it came.
//
// Back to the caller: the upstream's headers minus hop-by-hop ones (and those its Connection
// header names) and cookies: a cookie the provider sets is for a browser session that this
// backend-to-API call does not have, and it would land on latchkey's origin.
import type { IncomingHttpHeaders } from 'node:http';

export const PROXY_HEADER_PREFIX = 'x-pd-proxy-';

/** RFC 9110 §7.6.1 and the de-facto ones (keep-alive, proxy-connection). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade']);

const NEVER_FORWARDED = new Set([
  ...HOP_BY_HOP,
  'authorization',
  'proxy-authorization',
  'proxy-authenticate',
  'cookie',
  'cookie2',
  'host',
  'content-length',
  // The proxy answers with the upstream's response, never an interim 100 it cannot give.
  'expect',
]);

// alt-svc (RFC 7838) advertises alternatives for the upstream's origin, not latchkey's; x-request-id is latchkey's own.
const NEVER_RETURNED = new Set([...HOP_BY_HOP, 'proxy-authenticate', 'set-cookie', 'set-cookie2', 'alt-svc', 'x-request-id']);

/** The headers for the upstream, from the caller's request (names lower-case, as Node gives them). */
export function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || !name.startsWith(PROXY_HEADER_PREFIX)) continue;
    const upstreamName = name.slice(PROXY_HEADER_PREFIX.length);
    if (upstreamName === '' || NEVER_FORWARDED.has(upstreamName) || upstreamName.startsWith('x-pd-')) continue;
    forwarded[upstreamName] = Array.isArray(value) ? value.join(', ') : value;
  }
  const contentType = incoming['content-type'];
  if (contentType !== undefined && forwarded['content-type'] === undefined) forwarded['content-type'] = contentType;
  return forwarded;
}

/** The upstream's response headers that go back to the caller. */
export function returnedHeaders(upstream: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = new Set(
    String(upstream['connection'] ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ''),
  );
  const returned: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || NEVER_RETURNED.has(name) || named.has(name)) continue;
    returned[name] = value;
  }
  return returned;
}
