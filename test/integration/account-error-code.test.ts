// The accounts.error_code migration backfills the stable code from the English texts the
// refresher stored before the column existed, and leaves texts it never wrote without a code.
import t from 'tap';
import { sql } from 'kysely';
import { ACCOUNT_FAILURE_TEXTS } from '../../src/accounts/refresh-outcome.ts';
import type { AccountErrorCode } from '../../src/db/types.ts';
import { createMigrator, migrateToLatest } from '../../src/db/migrator.ts';
import { createTestDatabase } from '../fixtures/database.ts';

const MIGRATION = '2026-12-01T0001-account-error-code';
const BEFORE = '2026-11-22T0012-connect-results';

t.test('error_code is backfilled from the stored error texts', async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const db = database.handle.db;

  const down = await createMigrator(db).migrateTo(BEFORE);
  t.equal(down.error, undefined);
  t.same(
    down.results?.filter((r) => r.migrationName === MIGRATION).map((r) => [r.direction, r.status]),
    [['Down', 'Success']],
    'back to the schema before error_code',
  );

  await db.insertInto('projects').values({ id: 'proj_backfill', name: 'backfill' }).execute();
  await db.insertInto('external_users').values({ id: 'exu_backfill', project_id: 'proj_backfill', environment: 'production', external_id: 'user' }).execute();
  const stored: [string, string | null][] = [
    ['apn_revoked', ACCOUNT_FAILURE_TEXTS.grant_revoked],
    ['apn_interrupted', ACCOUNT_FAILURE_TEXTS.grant_lost_in_interrupted_refresh],
    ['apn_norefresh', ACCOUNT_FAILURE_TEXTS.expired_without_refresh_token],
    ['apn_client', ACCOUNT_FAILURE_TEXTS.client_rejected],
    ['apn_missing', ACCOUNT_FAILURE_TEXTS.oauth_app_missing],
    ['apn_down', `${ACCOUNT_FAILURE_TEXTS.provider_unavailable} (timed out)`],
    ['apn_other', 'provider answered 503'],
    ['apn_healthy', null],
  ];
  for (const [id, error] of stored) {
    // The columns of the schema before the migration, written as the old code wrote them.
    await sql`insert into accounts (id, project_id, environment, external_user_id, external_id, app_slug, credentials_enc, authorized_scopes, error)
              values (${id}, 'proj_backfill', 'production', 'exu_backfill', 'user', 'github', ${Buffer.from('sealed')}, '[]'::jsonb, ${error})`.execute(db);
  }

  await migrateToLatest(db);
  const rows = await db.selectFrom('accounts').select(['id', 'error', 'error_code']).orderBy('id').execute();
  const expected: Record<string, AccountErrorCode | null> = {
    apn_revoked: 'grant_revoked',
    apn_interrupted: 'grant_lost_in_interrupted_refresh',
    apn_norefresh: 'expired_without_refresh_token',
    apn_client: 'client_rejected',
    apn_missing: 'oauth_app_missing',
    apn_down: 'provider_unavailable',
    apn_other: null,
    apn_healthy: null,
  };
  t.same(Object.fromEntries(rows.map((row) => [row.id, row.error_code])), expected);
  t.same(
    rows.map((row) => row.error),
    [...stored].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, error]) => error),
    'the texts stay beside the codes',
  );
});
