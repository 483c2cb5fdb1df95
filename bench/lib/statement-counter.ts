// Counts the SQL a database served, from pg_stat_database (transactions committed and rolled
// back, rows read and written). pg_stat_statements would name each statement, but it needs
// shared_preload_libraries, a server setting a benchmark cannot assume; latchkey sends every
// statement outside an explicit transaction as a transaction of its own, so transactions count
// its statements (an explicit BEGIN … COMMIT counts once). The statistics reach the view within
// about a second of a backend going idle, so only windows of many seconds are meaningful.
import type pg from 'pg';

export interface DatabaseCounters {
  transactions: number;
  rowsUpdated: number;
  rowsInserted: number;
  rowsFetched: number;
}

export async function readCounters(client: pg.Client, databaseName: string): Promise<DatabaseCounters> {
  const result = await client.query<Record<string, string>>(
    `select xact_commit + xact_rollback as transactions, tup_updated, tup_inserted, tup_fetched
       from pg_stat_database where datname = $1`,
    [databaseName],
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error(`no statistics for database ${databaseName}`);
  return {
    transactions: Number(row['transactions']),
    rowsUpdated: Number(row['tup_updated']),
    rowsInserted: Number(row['tup_inserted']),
    rowsFetched: Number(row['tup_fetched']),
  };
}

export function difference(after: DatabaseCounters, before: DatabaseCounters): DatabaseCounters {
  return {
    transactions: after.transactions - before.transactions,
    rowsUpdated: after.rowsUpdated - before.rowsUpdated,
    rowsInserted: after.rowsInserted - before.rowsInserted,
    rowsFetched: after.rowsFetched - before.rowsFetched,
  };
}
