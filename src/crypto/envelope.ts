// Envelope encryption. A data-encryption key (DEK) seals values; a key-encryption key (KEK)
// wraps the DEK. Rotating a KEK re-wraps DEKs only; sealed values are never re-encrypted.
//
// Sealed value:  format (1) ‖ dek id (16 bytes, a UUID) ‖ nonce (12) ‖ ciphertext ‖ tag (16)
//   format 0x02 (written now):
//     associated data = header ‖ lp("latchkey/value/2") ‖ lp(table) ‖ lp(column) ‖ lp(row id)
//                       ‖ lp(project id) ‖ lp(environment)        ("" for none)
//   format 0x01 (legacy, read only until re-sealed: see reseal/reseal.ts):
//     associated data = header ‖ lp("latchkey/value") ‖ lp(table) ‖ lp(column) ‖ lp(row id)
//   The format byte is inside the header, which is part of the associated data, so a v2 value
//   relabelled as v1 fails to open.
// Wrapped DEK:   0x01 ‖ kek id length (1) ‖ kek id ‖ nonce (12) ‖ ciphertext (32) ‖ tag (16)
//   associated data = lp("latchkey/dek") ‖ lp(dek id) ‖ lp(kek id)
import { randomBytes } from 'node:crypto';
import { AES_KEY_BYTES, DecryptionError, aesGcmDecrypt, aesGcmEncrypt, encodeAssociatedData } from './aead.ts';
import type { Keyring } from './keyring.ts';

/** Legacy: bound to table, column and row only. */
export const SEALED_FORMAT_V1 = 0x01;
/** Bound to table, column, row, project and environment. */
export const SEALED_FORMAT_V2 = 0x02;
export const WRAPPED_FORMAT_V1 = 0x01;
const DEK_ID_BYTES = 16;
const SEALED_HEADER_BYTES = 1 + DEK_ID_BYTES;

/**
 * Where a sealed value lives; a ciphertext moved to another row, column, project or environment
 * fails to open. `projectId` also picks the data key that seals it.
 */
export interface SealContext {
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
  /** Null: a value of no project (sealed under the global data key). */
  readonly projectId: string | null;
  /** Null: a value of the whole project (an OAuth app), not of one environment. */
  readonly environment: string | null;
}

export interface DataKey {
  /** UUID string. */
  readonly id: string;
  readonly material: Buffer;
}

export class MissingKeyError extends Error {
  override name = 'MissingKeyError';
}

export function generateDataKey(id: string): DataKey {
  return { id, material: randomBytes(AES_KEY_BYTES) };
}

export function sealValue(dek: DataKey, context: SealContext, plaintext: Buffer): Buffer {
  const header = Buffer.concat([Buffer.from([SEALED_FORMAT_V2]), uuidToBytes(dek.id)]);
  const sealed = aesGcmEncrypt(dek.material, plaintext, valueAssociatedData(header, context));
  return Buffer.concat([header, sealed]);
}

/** The format byte of a sealed value (SEALED_FORMAT_V1 or _V2); throws for anything else. */
export function readSealedFormat(sealed: Buffer): number {
  sealed = asBuffer(sealed);
  if (sealed.length < SEALED_HEADER_BYTES) throw new DecryptionError('sealed value too short');
  if (sealed[0] !== SEALED_FORMAT_V1 && sealed[0] !== SEALED_FORMAT_V2) throw new DecryptionError(`unknown sealed value format ${sealed[0]}`);
  return sealed[0];
}

/** The DEK id a sealed value names, so the caller can fetch the right key. */
export function readSealedKeyId(sealed: Buffer): string {
  sealed = asBuffer(sealed);
  readSealedFormat(sealed);
  return bytesToUuid(sealed.subarray(1, SEALED_HEADER_BYTES));
}

/** Opens a value of either format (format 1 until the re-seal migration has rewritten it). */
export function openValue(dek: DataKey, context: SealContext, sealed: Buffer): Buffer {
  sealed = asBuffer(sealed);
  if (readSealedKeyId(sealed) !== dek.id) throw new DecryptionError('sealed value names another data key');
  const header = sealed.subarray(0, SEALED_HEADER_BYTES);
  return aesGcmDecrypt(dek.material, sealed.subarray(SEALED_HEADER_BYTES), valueAssociatedData(header, context));
}

export function wrapDataKey(keyring: Keyring, dek: DataKey): { kekId: string; wrapped: Buffer } {
  const kek = keyring.get(keyring.activeId)!;
  const kekId = Buffer.from(kek.id, 'utf8');
  const sealed = aesGcmEncrypt(kek.material, dek.material, wrapAssociatedData(dek.id, kek.id));
  return { kekId: kek.id, wrapped: Buffer.concat([Buffer.from([WRAPPED_FORMAT_V1, kekId.length]), kekId, sealed]) };
}

export function unwrapDataKey(keyring: Keyring, dekId: string, wrapped: Buffer): DataKey {
  wrapped = asBuffer(wrapped);
  if (wrapped.length < 2 || wrapped[0] !== WRAPPED_FORMAT_V1) throw new DecryptionError('unknown wrapped key format');
  const kekIdLength = wrapped[1]!;
  const kekId = wrapped.subarray(2, 2 + kekIdLength).toString('utf8');
  const kek = keyring.get(kekId);
  if (kek === undefined) {
    throw new MissingKeyError(`data key ${dekId} is wrapped by key-encryption key "${kekId}", which is not in LATCHKEY_KEYS`);
  }
  const material = aesGcmDecrypt(kek.material, wrapped.subarray(2 + kekIdLength), wrapAssociatedData(dekId, kekId));
  return { id: dekId, material };
}

/** The KEK id a wrapped DEK names. */
export function readWrappingKeyId(wrapped: Buffer): string {
  wrapped = asBuffer(wrapped);
  if (wrapped.length < 2 || wrapped[0] !== WRAPPED_FORMAT_V1) throw new DecryptionError('unknown wrapped key format');
  return wrapped.subarray(2, 2 + wrapped[1]!).toString('utf8');
}

function valueAssociatedData(header: Buffer, context: SealContext): Buffer {
  if (header[0] === SEALED_FORMAT_V1) {
    return Buffer.concat([header, encodeAssociatedData(['latchkey/value', context.table, context.column, context.rowId])]);
  }
  // Project and environment ids never are "" (projects are proj_…, environments are named), so
  // "" for none cannot collide with a real one.
  const parts = ['latchkey/value/2', context.table, context.column, context.rowId, context.projectId ?? '', context.environment ?? ''];
  return Buffer.concat([header, encodeAssociatedData(parts)]);
}

function wrapAssociatedData(dekId: string, kekId: string): Buffer {
  return encodeAssociatedData(['latchkey/dek', dekId, kekId]);
}

// Drivers differ (PGlite returns bytea as a bare Uint8Array), and on a Uint8Array
// subarray().toString('hex') silently yields "1,2,3": parse headers only from real Buffers.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new RangeError('data key id must be a UUID');
  return Buffer.from(hex, 'hex');
}

function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
