// The vault seals and opens values for a project with that project's DEK. DEKs are unwrapped
// once and cached (they never change; rotation only re-wraps them), so opening a value on the
// hot path costs one AES-GCM decrypt and no query.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { DecryptionError } from '../crypto/aead.ts';
import {
  MissingKeyError,
  generateDataKey,
  openValue,
  readSealedKeyId,
  sealValue,
  unwrapDataKey,
  wrapDataKey,
  type DataKey,
  type SealContext,
} from '../crypto/envelope.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Database } from '../db/types.ts';
import { findDataKeyById, findDataKeyForProject, findOneDataKeyPerKek, insertDataKeyOnce } from './data-key.repository.ts';

export type { SealContext } from '../crypto/envelope.ts';
export { DecryptionError, MissingKeyError };

export class Vault {
  private readonly keysById = new Map<string, DataKey>();
  private readonly keyIdByProject = new Map<string, string>();
  private readonly pendingByProject = new Map<string, Promise<DataKey>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly keyring: Keyring,
  ) {}

  /**
   * Fails fast when a stored DEK is wrapped by a KEK this process does not have, or by a KEK
   * whose id is configured with other key material (a regenerated or mistyped key): one DEK per
   * KEK is unwrapped, so a wrong key stops the start instead of failing every later request.
   */
  async assertKeysAvailable(): Promise<void> {
    for (const row of await findOneDataKeyPerKek(this.db)) {
      if (this.keyring.get(row.kek_id) === undefined) {
        throw new MissingKeyError(`stored data keys are wrapped by key-encryption key "${row.kek_id}", which is not in LATCHKEY_KEYS`);
      }
      try {
        unwrapDataKey(this.keyring, row.id, row.wrapped_key).material.fill(0);
      } catch (cause) {
        if (!(cause instanceof DecryptionError)) throw cause;
        throw new MissingKeyError(
          `key-encryption key "${row.kek_id}" in LATCHKEY_KEYS does not unwrap the stored data keys: it is not the key they were wrapped with`,
          { cause },
        );
      }
    }
  }

  /** Seals under the data key of `context.projectId`, bound to the whole context. */
  async seal(context: SealContext, plaintext: string | Buffer): Promise<Buffer> {
    const dek = await this.dataKeyForProject(context.projectId);
    return sealValue(dek, context, typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext);
  }

  /**
   * Loads (or, for a new project, creates) the project's data key, so that a later seal needs no
   * query: the refresher calls it before a provider call, whose answer it must seal and commit
   * without anything slow in between.
   */
  async loadProjectKey(projectId: string | null): Promise<void> {
    await this.dataKeyForProject(projectId);
  }

  async open(context: SealContext, sealed: Buffer): Promise<Buffer> {
    const dek = this.keysById.get(readSealedKeyId(sealed)) ?? (await this.loadDataKey(readSealedKeyId(sealed)));
    return openValue(dek, context, sealed);
  }

  async openString(context: SealContext, sealed: Buffer): Promise<string> {
    return (await this.open(context, sealed)).toString('utf8');
  }

  private async dataKeyForProject(projectId: string | null): Promise<DataKey> {
    const cacheKey = projectId ?? '';
    const knownId = this.keyIdByProject.get(cacheKey);
    if (knownId !== undefined) return this.keysById.get(knownId)!;
    let pending = this.pendingByProject.get(cacheKey);
    if (pending === undefined) {
      pending = this.loadOrCreateProjectKey(projectId).finally(() => this.pendingByProject.delete(cacheKey));
      this.pendingByProject.set(cacheKey, pending);
    }
    return pending;
  }

  private async loadOrCreateProjectKey(projectId: string | null): Promise<DataKey> {
    let row = await findDataKeyForProject(this.db, projectId);
    if (row === undefined) {
      const fresh = generateDataKey(randomUUID());
      const { kekId, wrapped } = wrapDataKey(this.keyring, fresh);
      row = await insertDataKeyOnce(this.db, { id: fresh.id, project_id: projectId, kek_id: kekId, wrapped_key: wrapped });
    }
    const dek = unwrapDataKey(this.keyring, row.id, row.wrapped_key);
    this.keysById.set(dek.id, dek);
    this.keyIdByProject.set(projectId ?? '', dek.id);
    return dek;
  }

  private async loadDataKey(id: string): Promise<DataKey> {
    const row = await findDataKeyById(this.db, id);
    if (row === undefined) throw new DecryptionError(`data key ${id} does not exist`);
    const dek = unwrapDataKey(this.keyring, row.id, row.wrapped_key);
    this.keysById.set(dek.id, dek);
    return dek;
  }
}
