// Tokens we mint: `<prefix><30 base62 random chars><6 base62 CRC32 chars>`, after GitHub's
// token format, so a leaked token can be recognised by scanners and junk rejected before any
// database query. Only SHA-256 digests are stored: the tokens carry ≥178 random bits, so a
// slow hash would buy nothing and would sit on every request.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_CHARS = 30;
const CHECKSUM_CHARS = 6;

export const TOKEN_PREFIXES = {
  apiAccessToken: 'lka_',
  clientSecret: 'lks_',
  connectToken: 'ctok_',
  oauthState: 'lkst_',
  adminToken: 'lkadm_',
} as const;

export type TokenPrefix = (typeof TOKEN_PREFIXES)[keyof typeof TOKEN_PREFIXES];

export function mintToken(prefix: TokenPrefix): string {
  const body = randomBase62(RANDOM_CHARS);
  return `${prefix}${body}${checksum(prefix + body)}`;
}

/** True when the token has the prefix, the shape and a matching checksum. No I/O. */
export function hasValidTokenShape(token: string, prefix: TokenPrefix): boolean {
  if (token.length !== prefix.length + RANDOM_CHARS + CHECKSUM_CHARS || !token.startsWith(prefix)) return false;
  const payload = token.slice(0, token.length - CHECKSUM_CHARS);
  const body = token.slice(prefix.length);
  if (!/^[0-9A-Za-z]+$/.test(body)) return false;
  return checksum(payload) === token.slice(token.length - CHECKSUM_CHARS);
}

export function digestToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A random id for public identifiers (`proj_…`, `apn_…`): not secret, no checksum. */
export function mintId(prefix: string, length = 16): string {
  return `${prefix}${randomBase62(length)}`;
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // Rejection sampling keeps the alphabet uniform (248 = 4 × 62).
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

function checksum(payload: string): string {
  let value = crc32(Buffer.from(payload, 'utf8'));
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
