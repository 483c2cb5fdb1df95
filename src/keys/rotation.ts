// Online KEK rotation: re-wrap every DEK not wrapped by the active KEK, in batches, each batch
// in its own transaction with FOR UPDATE SKIP LOCKED so two runs (or replicas) share the work.
// Sealed data is never touched: a DEK's material, and so every value it sealed, stays the same.
import type { Kysely } from 'kysely';
import { unwrapDataKey, wrapDataKey } from '../crypto/envelope.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Database } from '../db/types.ts';
import { countDataKeysByKek, lockDataKeysNotWrappedBy, updateWrappedKey } from './data-key.repository.ts';

export interface RotationResult {
  rewrapped: number;
  batches: number;
}

export async function rewrapDataKeys(db: Kysely<Database>, keyring: Keyring, batchSize = 500): Promise<RotationResult> {
  // LIMIT 0 would report "nothing to re-wrap" while every key still waits.
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive whole number');
  let rewrapped = 0;
  let batches = 0;
  for (;;) {
    const done = await db.transaction().execute(async (trx) => {
      const rows = await lockDataKeysNotWrappedBy(trx, keyring.activeId, batchSize);
      for (const row of rows) {
        const dek = unwrapDataKey(keyring, row.id, row.wrapped_key);
        const { kekId, wrapped } = wrapDataKey(keyring, dek);
        dek.material.fill(0);
        await updateWrappedKey(trx, row.id, kekId, wrapped);
      }
      return rows.length;
    });
    if (done === 0) return { rewrapped, batches };
    rewrapped += done;
    batches += 1;
  }
}

export interface KeyStatus {
  activeKekId: string;
  configuredKekIds: readonly string[];
  dataKeysByKek: { kek_id: string; count: number; configured: boolean }[];
}

export async function keyStatus(db: Kysely<Database>, keyring: Keyring): Promise<KeyStatus> {
  const counts = await countDataKeysByKek(db);
  return {
    activeKekId: keyring.activeId,
    configuredKekIds: keyring.ids,
    dataKeysByKek: counts.map((c) => ({ ...c, configured: keyring.get(c.kek_id) !== undefined })),
  };
}
