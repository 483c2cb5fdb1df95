// The one place that keeps latchkey's own secrets out of log lines. Every token format latchkey
// mints is recognised by its prefix wherever it appears in a logged URL or message: a URL that
// matches no route (`//v1/…`, `/validatex`, `;x`, a wrong method, bad percent-encoding) is
// logged as it came, so a per-route serializer is not enough. The logger (logger.ts) runs URLs,
// messages, error messages and stacks, and top-level string fields through redactSecrets.
import { TOKEN_PREFIXES } from '../crypto/tokens.ts';

export const REDACTED = '[redacted]';

/**
 * Standard Webhooks' signing key prefix (webhooks/signing-key.ts SIGNING_KEY_PREFIX, a layer
 * above http; test/security-log-redaction.test.ts checks the two agree). Its body is base64.
 */
const WEBHOOK_SIGNING_KEY_PREFIX = 'whsec_';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A prefix, then its body. The body is matched loosely (any length, any base62 or base64
 * character): a truncated, altered or mistyped token is still evidence. `_` may arrive as %5F.
 */
function prefixPattern(prefix: string, body: string): string {
  return `${escape(prefix.slice(0, -1))}(?:_|%5[Ff])${body}`;
}

const SECRET_PATTERN = new RegExp(
  [...Object.values(TOKEN_PREFIXES).map((prefix) => prefixPattern(prefix, '[A-Za-z0-9]+')), prefixPattern(WEBHOOK_SIGNING_KEY_PREFIX, '[A-Za-z0-9+/=%]+')].join(
    '|',
  ),
  'g',
);

/** `%XX` of an ASCII letter or digit: encoding one changes nothing, so a URL may hide a prefix in it. */
const ENCODED_ALPHANUMERIC = /%(?:3[0-9]|4[1-9A-Fa-f]|5[0-9Aa]|6[1-9A-Fa-f]|7[0-9Aa])/g;

/** `text` with every token latchkey mints replaced by its prefix and `[redacted]`. */
export function redactSecrets(text: string): string {
  const decoded = text.includes('%') ? text.replace(ENCODED_ALPHANUMERIC, (hex) => String.fromCharCode(Number.parseInt(hex.slice(1), 16))) : text;
  return decoded.replace(SECRET_PATTERN, (match) => `${match.slice(0, match.search(/_|%5[Ff]/))}_${REDACTED}`);
}

/** A request URL for the log: no query string or fragment (OAuth callbacks carry code and state), no token. */
export function redactUrl(url: string): string {
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  // The Connect proxy's url_64 is the upstream URL with its query, base64-encoded: not logged either.
  return redactSecrets(path.replace(/(\/proxy\/)[^/]+/, '$1[url_64]'));
}

/** A log line's own fields: string values at the top level are redacted (serializers did the rest). */
export function redactLogFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue;
    const redacted = redactSecrets(value);
    if (redacted === value) continue;
    out ??= { ...fields };
    out[key] = redacted;
  }
  return out ?? fields;
}
