// `url_64`, the upstream URL in the proxy's path, as every Pipedream client writes it: the v3 SDK
// sends standard base64 and then percent-encodes it (`+` `/` `=` → `%2B` `%2F` `%3D`), the v1 SDK
// sent URL-safe base64 without padding. The router has already percent-decoded the segment once;
// a base64 text never contains `%`, so one that is left is decoded again (a client that encoded
// twice). Anything that is not base64 of UTF-8 text without control characters names no URL.
import { hasControlCharacter } from '../registry/templates.ts';

/** Longer targets are refused: no API takes URLs near this, and it bounds the work per request. */
export const MAX_TARGET_LENGTH = 8 * 1024;

const BASE64_EITHER_ALPHABET = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** The decoded target (an absolute URL or a path relative to the app's api.base_url), or undefined. */
export function decodeUrl64(segment: string): string | undefined {
  let value = segment;
  if (value.includes('%')) {
    try {
      value = decodeURIComponent(value);
    } catch {
      return undefined;
    }
  }
  if (value.length > (MAX_TARGET_LENGTH * 4) / 3 + 4 || !BASE64_EITHER_ALPHABET.test(value)) return undefined;
  const standard = value.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  // A lone trailing character carries fewer than 8 bits: not the encoding of anything.
  if (standard.length % 4 === 1) return undefined;
  const bytes = Buffer.from(standard, 'base64');
  const text = bytes.toString('utf8');
  // Invalid UTF-8 decodes to U+FFFD; the round trip tells it apart from a real one.
  if (text === '' || !Buffer.from(text, 'utf8').equals(bytes) || hasControlCharacter(text)) return undefined;
  return text;
}
