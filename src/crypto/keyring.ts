// Key-encryption keys (KEKs). `LATCHKEY_KEYS` lists them as `id:base64key`, comma separated;
// the FIRST entry is active (new DEKs are wrapped by it), the others only unwrap. Rotation:
// ship `old,new` everywhere (new is decrypt-only), then `new,old`, then run `keys rotate`.
import { randomBytes } from 'node:crypto';
import { weakKeyMaterialReason } from './secret-strength.ts';

export const KEK_LENGTH_BYTES = 32;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export class KeyringError extends Error {
  override name = 'KeyringError';
}

export interface KeyEncryptionKey {
  readonly id: string;
  readonly material: Buffer;
}

export interface Keyring {
  readonly activeId: string;
  readonly ids: readonly string[];
  get(id: string): KeyEncryptionKey | undefined;
}

export function parseKeyring(raw: string): Keyring {
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new KeyringError('LATCHKEY_KEYS: no key given');
  const keys = new Map<string, KeyEncryptionKey>();
  for (const [index, entry] of entries.entries()) {
    const separator = entry.indexOf(':');
    if (separator <= 0) throw new KeyringError(`LATCHKEY_KEYS: entry ${index + 1} is not of the form id:base64key`);
    const id = entry.slice(0, separator);
    if (!KEY_ID_PATTERN.test(id)) throw new KeyringError(`LATCHKEY_KEYS: entry ${index + 1} has an invalid key id (A-Z a-z 0-9 _ -, at most 32)`);
    if (keys.has(id)) throw new KeyringError(`LATCHKEY_KEYS: key id ${id} appears twice`);
    const material = decodeKeyMaterial(entry.slice(separator + 1));
    if (material.length !== KEK_LENGTH_BYTES) {
      throw new KeyringError(`LATCHKEY_KEYS: key ${id} must be ${KEK_LENGTH_BYTES} bytes (base64 of 32 random bytes), got ${material.length}`);
    }
    keys.set(id, Object.freeze({ id, material }));
  }
  const ids = Object.freeze([...keys.keys()]);
  return Object.freeze({ activeId: ids[0]!, ids, get: (id: string) => keys.get(id) });
}

/**
 * The ids of well-formed entries whose key material is weak (all zero, a pattern, text), each
 * with the reason. Malformed entries are left to parseKeyring, which names them at start.
 */
export function weakKeyringEntries(raw: string): { id: string; reason: string }[] {
  const weak: { id: string; reason: string }[] = [];
  for (const entry of raw.split(',').map((item) => item.trim())) {
    const separator = entry.indexOf(':');
    if (separator <= 0) continue;
    const encoded = entry.slice(separator + 1);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) continue;
    const material = decodeKeyMaterial(encoded);
    if (material.length !== KEK_LENGTH_BYTES) continue;
    const reason = weakKeyMaterialReason(material);
    if (reason !== undefined) weak.push({ id: entry.slice(0, separator), reason });
  }
  return weak;
}

export function generateKeyringEntry(id: string): string {
  if (!KEY_ID_PATTERN.test(id)) throw new KeyringError('key id must match [A-Za-z0-9_-]{1,32}');
  return `${id}:${randomBytes(KEK_LENGTH_BYTES).toString('base64')}`;
}

function decodeKeyMaterial(encoded: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw new KeyringError('LATCHKEY_KEYS: key material must be base64');
  return Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}
