// Project secrets: named values per project environment for services that have no app. Each value
// is sealed with the project's data key (the envelope encryption of credentials), with associated
// data naming project, environment and name: a sealed value moved to another project,
// environment or name fails to open instead of answering under the wrong name.
import type { Kysely } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';
import { ApiError, badRequest, notFound } from '../errors.ts';
import { DecryptionError, type SealContext, type Vault } from '../keys/vault.ts';
import { SECRET_VALUE_MAX_BYTES } from './secret-name.ts';
import { deleteSecret, findSecret, listSecretNames, upsertSecret, type SecretKey, type SecretRow } from './secrets.repository.ts';

export interface SecretsDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
}

export interface SecretView {
  name: string;
  created_at: string;
  updated_at: string;
}

export type { SecretKey } from './secrets.repository.ts';

function sealContextOf(key: SecretKey): SealContext {
  return {
    table: 'project_secrets',
    column: 'value_enc',
    rowId: `${key.projectId}/${key.environment}/${key.name}`,
    projectId: key.projectId,
    environment: key.environment,
  };
}

function viewOf(row: Pick<SecretRow, 'name' | 'created_at' | 'updated_at'>): SecretView {
  return { name: row.name, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

export async function listSecrets(deps: SecretsDeps, projectId: string, environment: EnvironmentName): Promise<SecretView[]> {
  return (await listSecretNames(deps.db, projectId, environment)).map(viewOf);
}

export async function readSecret(deps: SecretsDeps, key: SecretKey): Promise<SecretView & { value: string }> {
  const row = await findSecret(deps.db, key);
  if (row === undefined) throw notFound('secret');
  return { ...viewOf(row), value: await openValue(deps.vault, key, row.value_enc) };
}

async function openValue(vault: Vault, key: SecretKey, sealed: Buffer): Promise<string> {
  try {
    return await vault.openString(sealContextOf(key), sealed);
  } catch (err) {
    // Tampered, moved to another project, environment or name, or sealed under a key we do not have.
    if (err instanceof DecryptionError) throw new ApiError('credential_unreadable', 'the stored secret could not be decrypted', { cause: err });
    throw err;
  }
}

/** Creates or replaces a secret; `created` tells the route which status to answer. */
export async function writeSecret(deps: SecretsDeps, key: SecretKey, value: string): Promise<{ created: boolean; view: SecretView }> {
  if (Buffer.byteLength(value, 'utf8') > SECRET_VALUE_MAX_BYTES) throw badRequest(`value is larger than ${SECRET_VALUE_MAX_BYTES} bytes`);
  const sealed = await deps.vault.seal(sealContextOf(key), value);
  const { created, row } = await upsertSecret(deps.db, key, sealed);
  return { created, view: viewOf(row) };
}

export async function removeSecret(deps: SecretsDeps, key: SecretKey): Promise<void> {
  if (!(await deleteSecret(deps.db, key))) throw notFound('secret');
}
