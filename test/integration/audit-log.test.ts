import { setTimeout as sleep } from 'node:timers/promises';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { InsertQueryNode, RawNode, sql } from 'kysely';
import { Registry } from 'prom-client';
import t from 'tap';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { queryAuditRows } from '../../src/audit/audit.repository.ts';
import { sanitizeDetails } from '../../src/audit/sanitize.ts';
import { mintToken } from '../../src/crypto/tokens.ts';
import { createTestDatabase } from '../fixtures/database.ts';

/**
 * Counts the INSERT statements that reach the database (a real database, just observed): built
 * ones, and SQL written out (the batch insert is one fixed statement over arrays).
 */
class InsertCounter implements KyselyPlugin {
  inserts = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = args.node;
    const writtenInsert = RawNode.is(node) && /^\s*insert\b/i.test(node.sqlFragments[0] ?? '');
    if (InsertQueryNode.is(node) || writtenInsert) this.inserts += 1;
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

async function countRows(db: Parameters<typeof queryAuditRows>[0]): Promise<number> {
  const row = await db
    .selectFrom('audit_log')
    .select(sql<string>`count(*)`.as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

t.test('many records become few multi-row INSERTs; rows visible after flush', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const counter = new InsertCounter();
  const auditLog = new AuditLog(database.handle.db.withPlugin(counter), { flushIntervalMs: 60_000 });
  t.teardown(() => auditLog.stop());

  for (let i = 0; i < 1200; i++) {
    auditLog.record({ projectId: 'proj_a', environment: 'production', actor: 'client:lkc_x', action: 'credentials.read', accountId: `apn_${i}`, result: 'ok' });
  }
  // 500 pending triggered an immediate flush of its own; wait for the database to settle.
  await auditLog.flush();
  t.equal(await countRows(database.handle.db), 1200);
  t.equal(auditLog.pending, 0);
  t.ok(counter.inserts >= 3 && counter.inserts <= 4, `1200 entries in ${counter.inserts} INSERTs (batches of ≤ 500)`);

  const rows = await queryAuditRows(database.handle.db, { accountId: 'apn_7', limit: 10 });
  t.equal(rows.length, 1);
  t.hasStrict(rows[0], { project_id: 'proj_a', environment: 'production', actor: 'client:lkc_x', action: 'credentials.read', result: 'ok', details: null });
  t.ok(rows[0]!.at instanceof Date);
});

t.test('the timer flushes a few entries without an explicit flush; reaching the batch size flushes at once', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const counter = new InsertCounter();
  const timed = new AuditLog(database.handle.db.withPlugin(counter), { flushIntervalMs: 50 });
  t.teardown(() => timed.stop());
  for (let i = 0; i < 10; i++) timed.record({ actor: 'admin', action: 'project.create', result: 'ok' });
  t.equal(await countRows(database.handle.db), 0, 'nothing written synchronously');
  await waitFor(async () => (await countRows(database.handle.db)) === 10);
  t.equal(counter.inserts, 1, 'ten entries, one INSERT');

  // With a long interval, only the batch size can trigger the write.
  const batched = new AuditLog(database.handle.db, { flushIntervalMs: 600_000, batchSize: 20 });
  t.teardown(() => batched.stop());
  for (let i = 0; i < 19; i++) batched.record({ actor: 'admin', action: 'x', result: 'ok' });
  await sleep(100);
  t.equal(await countRows(database.handle.db), 10, 'below the batch size: still buffered');
  batched.record({ actor: 'admin', action: 'x', result: 'ok' });
  await waitFor(async () => (await countRows(database.handle.db)) === 30);
  t.pass('the 20th entry flushed the batch');
});

t.test('no secret reaches details: secret-looking keys and our token shapes are dropped', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const auditLog = new AuditLog(database.handle.db);
  t.teardown(() => auditLog.stop());
  const connectToken = mintToken('ctok_');
  auditLog.record({
    actor: 'admin',
    action: 'account.refresh',
    accountId: 'apn_1',
    result: 'ok',
    details: {
      app: 'github',
      access_token: 'gho_SECRETACCESS',
      refresh_token: 'SECRETREFRESH',
      api_key: 'SECRETAPIKEY',
      client_secret: 'SECRETCLIENT',
      apiKey: 'SECRETCAMEL',
      Authorization: 'Bearer SECRETBEARER',
      nested: { oauth_access_token: 'SECRETNESTED', kept: 1, deeper: [{ password: 'SECRETPW', ok: true }] },
      echoed: connectToken,
      long: 'x'.repeat(5000),
    },
  });
  await auditLog.flush();
  const [row] = await queryAuditRows(database.handle.db, { accountId: 'apn_1', limit: 1 });
  const details = row!.details!;
  t.same(Object.keys(details).sort(), ['app', 'long', 'nested']);
  t.same(details['nested'], { kept: 1, deeper: [{ ok: true }] });
  t.ok(String(details['long']).length < 600, 'long strings are truncated');
  const raw = JSON.stringify(await database.handle.db.selectFrom('audit_log').selectAll().execute());
  t.notMatch(raw, /SECRET/);
  t.notMatch(raw, connectToken);

  t.same(sanitizeDetails({ client_id: 'lkc_abc', scopes: ['*'], name: 'n' }), { client_id: 'lkc_abc', scopes: ['*'], name: 'n' }, 'ordinary context is kept');
});

t.test('the database refuses UPDATE and DELETE on audit_log (append-only trigger)', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const db = database.handle.db;
  const auditLog = new AuditLog(db);
  t.teardown(() => auditLog.stop());
  auditLog.record({ actor: 'admin', action: 'project.create', result: 'ok' });
  await auditLog.flush();

  await t.rejects(db.updateTable('audit_log').set({ result: 'denied' }).execute(), /append-only/);
  await t.rejects(db.deleteFrom('audit_log').execute(), /append-only/);
  await t.rejects(sql`update audit_log set actor = 'someone else'`.execute(db), /append-only/);
  const rows = await db.selectFrom('audit_log').selectAll().execute();
  t.equal(rows.length, 1);
  t.hasStrict(rows[0], { actor: 'admin', result: 'ok' });
});

t.test('database down: entries are kept up to the bound, the oldest dropped and counted, the rest written later', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  // A database that fails like an unreachable server: the first N queries throw.
  let failing = true;
  const flaky: KyselyPlugin = {
    transformQuery(args) {
      if (failing) throw new Error('connect ECONNREFUSED');
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  const warnings: string[] = [];
  const metrics = new Registry();
  const auditLog = new AuditLog(database.handle.db.withPlugin(flaky), {
    flushIntervalMs: 600_000,
    batchSize: 10,
    maxBuffered: 25,
    metrics,
    logger: { warn: (_obj, msg) => warnings.push(msg), error: (_obj, msg) => warnings.push(msg) },
  });
  t.teardown(() => auditLog.stop());

  for (let i = 0; i < 40; i++) auditLog.record({ actor: 'admin', action: `a${i}`, result: 'ok' });
  await auditLog.flush();
  t.equal(auditLog.pending, 25, 'bounded');
  t.equal(auditLog.dropped, 15, 'the overflow is counted');
  t.match(await metrics.getSingleMetricAsString('latchkey_audit_dropped_total'), /latchkey_audit_dropped_total 15/);
  t.ok(warnings.some((w) => /dropped/.test(w)));
  t.ok(warnings.some((w) => /flush failed/.test(w)));

  failing = false;
  await auditLog.flush();
  t.equal(auditLog.pending, 0);
  const actions = (await database.handle.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((r) => r.action);
  t.same(
    actions,
    Array.from({ length: 25 }, (_, i) => `a${i + 15}`),
    'the newest 25 survive, in order',
  );
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error('condition not met in time');
}
