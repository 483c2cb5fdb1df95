// Issue 10, Medium 2, as the review ran it: a real server process, an admin action with a lone
// surrogate in a name (which answered 200 and put an entry `jsonb` refuses at the head of the
// audit buffer), ~800 audited actions after it, then SIGTERM. The audit table must hold all of
// them afterwards: the surrogate is refused at the edge, and what is still buffered at SIGTERM is
// written before the pool closes (server.ts). Catalogue §5 items 52 and 57.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import t from 'tap';
import { openDatabase } from '../../src/db/connect.ts';
import { processEnv, startServer } from '../fixtures/latchkey-process.ts';

const ADMIN = 'an-admin-token-for-the-audit-sigterm-test!';
const ACTIONS = 800;
t.setTimeout(300_000);

t.test('~800 audited actions after a poisoned one survive SIGTERM', async (t) => {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'latchkey-audit-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const server = await startServer(processEnv({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ADMIN_TOKEN: ADMIN }));
  const create = (name: string): Promise<Response> =>
    fetch(`${server.url}/v1/admin/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });

  const poisoned = await create('evil\ud83d');
  t.equal(poisoned.status, 400, 'the lone surrogate is refused at the edge');
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ACTIONS) {
        const i = next++;
        statuses.push((await create(`audited ${i}`)).status);
      }
    }),
  );
  t.same(
    statuses.filter((status) => status !== 201),
    [],
    `all ${ACTIONS} projects were created`,
  );
  const exit = await server.stop();
  t.equal(exit.code, 0, 'SIGTERM stops it cleanly');
  t.notMatch(exit.stdout + exit.stderr, /audit log stopped with entries unwritten/, 'nothing was left unwritten');

  const database = await openDatabase({ databaseUrl: undefined, dataDir, poolSize: 1 });
  t.teardown(() => database.close());
  const row = await database.db
    .selectFrom('audit_log')
    .select(sql<string>`count(*)`.as('n'))
    .where('action', '=', 'project.create')
    .where('result', '=', 'ok')
    .executeTakeFirstOrThrow();
  t.equal(Number(row.n), ACTIONS, 'every project.create entry is in the audit table');
});
