// Issue 10, Medium 2: one string stopped the audit log. An entry with `\u0000` or a lone surrogate
// (`"\ud83d"`) at the head of the buffer made every batch fail, the table stopped growing, and
// the ~800 pending entries were dropped at shutdown. Now every string is made storable before it
// is buffered, a batch that still fails is retried entry by entry (the bad one isolated, counted
// and logged), and what is buffered is written when the server closes. Catalogue §5 item 57.
import { sql, type Kysely } from 'kysely';
import { Registry } from 'prom-client';
import t from 'tap';
import { AuditLog } from '../../src/audit/audit-log.ts';
import type { Database } from '../../src/db/types.ts';
import { buildTestApp } from '../fixtures/app.ts';
import { createTestDatabase } from '../fixtures/database.ts';

const PENDING = 800;

async function countByActor(db: Kysely<Database>, actor: string): Promise<number> {
  const row = await db
    .selectFrom('audit_log')
    .select(sql<string>`count(*)`.as('n'))
    .where('actor', '=', actor)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

t.test('poisoned entries are stored sanitised, and ~800 pending entries survive the server closing', async (t) => {
  // A long flush interval: the entries are still pending when the server closes (only the
  // batch-size trigger may write some earlier, and the poison is at the head of that batch).
  const testApp = await buildTestApp(t, { tuning: { auditFlushIntervalMs: 600_000 } });
  const db = testApp.database.handle.db;
  const auditLog = testApp.app.auditLog;
  const actor = `test:poison-${Date.now()}`;

  // What the issue saw: an admin rename to a name with NUL, and a lone surrogate.
  auditLog.record({ actor, action: 'account.rename', result: 'ok', details: { name: 'evil\u0000name' } });
  auditLog.record({ actor, action: 'account.rename', result: 'ok', details: { name: 'evil\ud83d', 'key\udc00': 'x' } });
  // A NUL in a text column, and a cut that would have split a surrogate pair (500 chars, then 🚀).
  auditLog.record({ actor: `${actor}\u0000`, action: 'account.rename', result: 'ok' });
  auditLog.record({ actor, action: 'account.rename', result: 'ok', details: { long: `${'x'.repeat(499)}🚀` } });
  for (let i = 0; i < PENDING; i++) auditLog.record({ actor, action: 'credentials.read', accountId: `apn_${i}`, result: 'ok' });

  await testApp.app.server.close();
  t.equal(auditLog.pending, 0, 'nothing left in the buffer');
  t.equal(await countByActor(db, actor), PENDING + 3, 'every entry was written');
  t.equal(await countByActor(db, `${actor}\ufffd`), 1, 'the NUL in the actor became U+FFFD');
  const renames = await db.selectFrom('audit_log').select('details').where('actor', '=', actor).where('action', '=', 'account.rename').orderBy('id').execute();
  t.same(
    renames.map((row) => row.details),
    [{ name: 'evil\ufffdname' }, { name: 'evil\ufffd', 'key\ufffd': 'x' }, { long: `${'x'.repeat(499)}\ufffd…` }],
    'stored with each unstorable code unit replaced',
  );
  t.equal(auditLog.unwritable, 0, 'nothing had to be dropped');
});

t.test('a batch that still fails is retried entry by entry: the bad row is isolated, counted and logged', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const errors: { obj: object; msg: string }[] = [];
  const logger = { warn: () => {}, error: (obj: object, msg: string) => errors.push({ obj, msg }) };
  const metrics = new Registry();
  // A row the driver cannot serialise (what sanitising cannot foresee): an invalid timestamp.
  let calls = 0;
  const now = (): Date => (++calls === 3 ? new Date(Number.NaN) : new Date());
  const auditLog = new AuditLog(database.handle.db, { flushIntervalMs: 600_000, logger, metrics, now });
  t.teardown(() => auditLog.stop());

  for (let i = 0; i < PENDING; i++) auditLog.record({ actor: 'system:test', action: 'credentials.read', accountId: `apn_${i}`, result: 'ok' });
  await auditLog.flush();
  t.equal(auditLog.pending, 0, 'the buffer is empty');
  t.equal(await countByActor(database.handle.db, 'system:test'), PENDING - 1, 'every other entry was written');
  t.equal(auditLog.unwritable, 1, 'one entry could not be written');
  const metric = await metrics.getSingleMetricAsString('latchkey_audit_unwritable_total');
  t.match(metric, /latchkey_audit_unwritable_total 1$/m, 'counted in the metric');
  t.equal(errors.length, 1, 'one error line');
  t.equal(errors[0]?.msg, 'audit entry refused by the database; dropped so the rest of the log is written');
  t.hasStrict(errors[0]?.obj, { action: 'credentials.read', unwritableTotal: 1 });

  // The log keeps growing afterwards.
  auditLog.record({ actor: 'system:test', action: 'credentials.read', result: 'ok' });
  await auditLog.flush();
  t.equal(await countByActor(database.handle.db, 'system:test'), PENDING, 'later entries are written too');
});
