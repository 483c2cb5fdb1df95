// Data keys and KEK rotation with the Vault over a real test database (PGlite, or PostgreSQL
// when LATCHKEY_TEST_DATABASE_URL is set): data sealed under an old KEK opens after rotation
// and after a restart with only the new KEK; a missing or wrong KEK is a clear error; the
// re-wrap is idempotent, resumable and safe to run twice at once. Catalogue §5 items 37–38.
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { createProject } from '../../src/admin/admin.service.ts';
import { DecryptionError } from '../../src/crypto/aead.ts';
import { MissingKeyError } from '../../src/crypto/envelope.ts';
import { parseKeyring, type Keyring } from '../../src/crypto/keyring.ts';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/types.ts';
import { keyStatus, rewrapDataKeys } from '../../src/keys/rotation.ts';
import { Vault, type SealContext } from '../../src/keys/vault.ts';
import { createTestDatabase, type TestDatabase } from '../fixtures/database.ts';

const material = { k1: randomBytes(32).toString('base64'), k2: randomBytes(32).toString('base64'), k3: randomBytes(32).toString('base64') };
const ring = (ids: (keyof typeof material)[]): Keyring => parseKeyring(ids.map((id) => `${id}:${material[id]}`).join(','));

interface SealedRecord {
  projectId: string | null;
  context: SealContext;
  plaintext: string;
  sealed: Buffer;
}

async function database(t: Test): Promise<TestDatabase> {
  const db = await createTestDatabase();
  t.teardown(() => db.close());
  return db;
}

/** Seals `perProject` values for each of `projects` new projects plus one service-wide value. */
async function sealSome(db: Kysely<Database>, vault: Vault, projects: number, perProject = 2): Promise<SealedRecord[]> {
  const records: SealedRecord[] = [];
  const owners: (string | null)[] = [null];
  for (let i = 0; i < projects; i++) owners.push((await createProject(db, `project ${i}`)).id);
  for (const projectId of owners) {
    for (let j = 0; j < (projectId === null ? 1 : perProject); j++) {
      const context: SealContext = {
        table: 'accounts',
        column: 'credentials_enc',
        rowId: `apn_${projectId ?? 'global'}_${j}`,
        projectId,
        environment: 'production',
      };
      const plaintext = `secret-${projectId ?? 'global'}-${j}-${randomBytes(8).toString('hex')}`;
      records.push({ projectId, context, plaintext, sealed: await vault.seal(context, plaintext) });
    }
  }
  return records;
}

async function openAll(t: Test, vault: Vault, records: SealedRecord[], label: string): Promise<void> {
  let opened = 0;
  for (const record of records) if ((await vault.openString(record.context, record.sealed)) === record.plaintext) opened++;
  t.equal(opened, records.length, `${label}: all ${records.length} values open`);
}

function counts(status: Awaited<ReturnType<typeof keyStatus>>): Record<string, number> {
  return Object.fromEntries(status.dataKeysByKek.map((row) => [row.kek_id, row.count]));
}

t.test('rotation k1 → k2,k1 → rewrap → restart with k2 alone', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const v1 = new Vault(db, ring(['k1']));
  const records = await sealSome(db, v1, 3);
  t.same(counts(await keyStatus(db, ring(['k1']))), { k1: 4 }, 'one data key per project plus the service-wide one, all under k1');
  const storedBefore = await db.selectFrom('data_keys').select(['id', 'wrapped_key']).orderBy('id').execute();

  // Step 1–2: every replica gets k2 as the active key, k1 kept for unwrapping.
  const ring21 = ring(['k2', 'k1']);
  const v21 = new Vault(db, ring21);
  await v21.assertKeysAvailable();
  await openAll(t, v21, records, 'before the re-wrap, with k2,k1');
  const newer = await sealSome(db, v21, 1, 1);
  t.same(counts(await keyStatus(db, ring21)), { k1: 4, k2: 1 }, 'a new project gets a data key wrapped by the active k2');

  // Step 3: re-wrap.
  const first = await rewrapDataKeys(db, ring21);
  t.same(first, { rewrapped: 4, batches: 1 });
  const status = await keyStatus(db, ring21);
  t.same(counts(status), { k2: 5 });
  t.same(status.dataKeysByKek, [{ kek_id: 'k2', count: 5, configured: true }]);
  t.equal(status.activeKekId, 'k2');
  t.same(status.configuredKekIds, ['k2', 'k1']);
  const storedAfter = await db.selectFrom('data_keys').select(['id', 'wrapped_key', 'rewrapped_at']).orderBy('id').execute();
  const before = new Map(storedBefore.map((row) => [row.id, row.wrapped_key.toString('hex')]));
  for (const row of storedAfter.filter((r) => before.has(r.id))) {
    t.not(row.wrapped_key.toString('hex'), before.get(row.id), `data key ${row.id} has a new wrapping`);
    t.type(row.rewrapped_at, Date);
  }
  t.same(await rewrapDataKeys(db, ring21), { rewrapped: 0, batches: 0 }, 'a second run finds nothing to do (idempotent)');
  await t.rejects(rewrapDataKeys(db, ring(['k3']), 0), RangeError, 'a batch size of 0 is refused, not reported as done');

  // The sealed values themselves were never touched, and still open in the running process.
  await openAll(t, v21, [...records, ...newer], 'after the re-wrap, same process');

  // Step 4: restart with only k2: the old KEK is no longer needed.
  const v2 = new Vault(db, ring(['k2']));
  await v2.assertKeysAvailable();
  await openAll(t, v2, [...records, ...newer], 'after a restart with k2 alone');
  const again = await v2.seal(records[1]!.context, 'sealed after the restart');
  t.equal(await v2.openString(records[1]!.context, again), 'sealed after the restart');
  t.same(counts(await keyStatus(db, ring(['k2']))), { k2: 5 }, 'sealing after the restart reuses the project data key');
});

t.test('a missing KEK is a clear MissingKeyError naming the key id', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const records = await sealSome(db, new Vault(db, ring(['k2'])), 1);

  const v1 = new Vault(db, ring(['k1']));
  const startErr = await v1.assertKeysAvailable().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(startErr, MissingKeyError, 'assertKeysAvailable refuses');
  t.match((startErr as Error).message, /"k2"/);
  t.match((startErr as Error).message, /LATCHKEY_KEYS/);
  t.notOk((startErr as Error).message.includes(material.k2), 'the message holds no key material');
  t.notOk((startErr as Error).message.includes(material.k1));

  const openErr = await v1.open(records[1]!.context, records[1]!.sealed).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(openErr, MissingKeyError, 'open refuses');
  t.match((openErr as Error).message, /"k2"/);
  await t.rejects(v1.seal(records[1]!.context, 'x'), MissingKeyError, 'seal refuses too (no silent new key)');
  t.same(counts(await keyStatus(db, ring(['k1']))), { k2: 2 }, 'no data key was added under k1');
  const status = await keyStatus(db, ring(['k1']));
  t.same(status.dataKeysByKek, [{ kek_id: 'k2', count: 2, configured: false }], 'keys status shows the unconfigured KEK');

  // A re-wrap without the wrapping KEK fails and changes nothing.
  await t.rejects(rewrapDataKeys(db, ring(['k1'])), MissingKeyError);
  t.same(counts(await keyStatus(db, ring(['k2']))), { k2: 2 });
});

t.test('a wrong key under a known id is refused at start, not at first use', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const records = await sealSome(db, new Vault(db, ring(['k1'])), 1);
  const impostor = parseKeyring(`k1:${randomBytes(32).toString('base64')}`);
  const vault = new Vault(db, impostor);
  const err = await vault.assertKeysAvailable().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, MissingKeyError, 'assertKeysAvailable checks that the key actually unwraps a stored data key');
  t.match((err as Error | undefined)?.message ?? '', /"k1"/);
  await t.rejects(vault.open(records[0]!.context, records[0]!.sealed), DecryptionError);
});

t.test('re-wrap is resumable: batches of 1 over many projects, interrupted halfway, then finished', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const records = await sealSome(db, new Vault(db, ring(['k1'])), 6, 1);
  const sealedBefore = records.map((r) => r.sealed.toString('hex'));
  const target = ring(['k3', 'k1']);

  // A "crash" after two data keys: the keyring stops answering on the third unwrap.
  let unwraps = 0;
  const crashing: Keyring = {
    activeId: target.activeId,
    ids: target.ids,
    get: (id) => {
      if (id === 'k1' && ++unwraps > 2) throw new Error('simulated crash');
      return target.get(id);
    },
  };
  await t.rejects(rewrapDataKeys(db, crashing, 1), /simulated crash/);
  t.same(counts(await keyStatus(db, target)), { k1: 5, k3: 2 }, 'the two finished batches stay committed');
  await openAll(t, new Vault(db, target), records, 'halfway');

  const resumed = await rewrapDataKeys(db, target, 1);
  t.same(resumed, { rewrapped: 5, batches: 5 }, 'the resumed run does only what is left, one key per batch');
  t.same(counts(await keyStatus(db, target)), { k3: 7 });
  t.same(await rewrapDataKeys(db, target, 1), { rewrapped: 0, batches: 0 });
  await openAll(t, new Vault(db, ring(['k3'])), records, 'with k3 alone');
  t.same(
    records.map((r) => r.sealed.toString('hex')),
    sealedBefore,
    'sealed values are not re-encrypted',
  );
});

t.test('two concurrent re-wraps share the work without errors (SKIP LOCKED)', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const records = await sealSome(db, new Vault(db, ring(['k1'])), 9, 1);
  const target = ring(['k2', 'k1']);
  const [a, b] = await Promise.all([rewrapDataKeys(db, target, 1), rewrapDataKeys(db, target, 1)]);
  t.equal(a.rewrapped + b.rewrapped, 10, `every data key re-wrapped exactly once (${a.rewrapped} + ${b.rewrapped})`);
  t.same(counts(await keyStatus(db, target)), { k2: 10 });
  await openAll(t, new Vault(db, ring(['k2'])), records, 'after the concurrent re-wraps');
});

t.test('two vaults (replicas) creating the same project data key at once end with one key', async (t) => {
  const { handle } = await database(t);
  const db = handle.db;
  const projectId = (await createProject(db, 'race')).id;
  const a = new Vault(db, ring(['k1']));
  const b = new Vault(db, ring(['k1']));
  const context = (rowId: string): SealContext => ({ table: 'oauth_apps', column: 'client_secret_enc', rowId, projectId, environment: null });
  const sealed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).seal(context(`oa_${i}`), `value ${i}`)));
  const keys = await db.selectFrom('data_keys').select('id').where('project_id', '=', projectId).execute();
  t.equal(keys.length, 1, 'one data key for the project');
  for (const [i, value] of sealed.entries()) {
    t.equal(await a.openString(context(`oa_${i}`), value), `value ${i}`);
    t.equal(await b.openString(context(`oa_${i}`), value), `value ${i}`);
  }
  // A sealed value names a data key that does not exist: a clear DecryptionError.
  const forged = Buffer.from(sealed[0]!);
  forged[3] = forged[3]! ^ 1;
  await t.rejects(a.open(context('oa_0'), forged), DecryptionError);
});
