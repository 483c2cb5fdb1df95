// How much disk the accounts take: the database, the accounts table with and without its
// indexes, each index, and the end users beside them (one per account here).
import type pg from 'pg';

export interface DatabaseSizes {
  databaseBytes: number;
  accountsTotalBytes: number;
  accountsHeapBytes: number;
  accountsIndexesBytes: number;
  externalUsersTotalBytes: number;
  indexes: { name: string; bytes: number }[];
}

export async function readDatabaseSizes(client: pg.Client, databaseName: string): Promise<DatabaseSizes> {
  const totals = await client.query<Record<string, string>>(
    `select pg_database_size($1) as database,
            pg_total_relation_size('accounts') as accounts_total,
            pg_relation_size('accounts') as accounts_heap,
            pg_indexes_size('accounts') as accounts_indexes,
            pg_total_relation_size('external_users') as users_total`,
    [databaseName],
  );
  const indexes = await client.query<{ name: string; bytes: string }>(
    `select indexrelname as name, pg_relation_size(indexrelid) as bytes
       from pg_stat_user_indexes where relname = 'accounts' order by indexrelname`,
  );
  const row = totals.rows[0]!;
  return {
    databaseBytes: Number(row['database']),
    accountsTotalBytes: Number(row['accounts_total']),
    accountsHeapBytes: Number(row['accounts_heap']),
    accountsIndexesBytes: Number(row['accounts_indexes']),
    externalUsersTotalBytes: Number(row['users_total']),
    indexes: indexes.rows.map((index) => ({ name: index.name, bytes: Number(index.bytes) })),
  };
}

export function printDatabaseSizes(label: string, sizes: DatabaseSizes, accounts: number): void {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const perAccount = (bytes: number) => `${(bytes / accounts).toFixed(0)} B/account`;
  console.log(`database sizes at ${label} (${accounts} accounts, one end user each):`);
  console.log(`  whole database           ${mb(sizes.databaseBytes).padEnd(10)} ${perAccount(sizes.databaseBytes)}`);
  console.log(`  accounts, total          ${mb(sizes.accountsTotalBytes).padEnd(10)} ${perAccount(sizes.accountsTotalBytes)}`);
  console.log(
    `  accounts, heap + TOAST   ${mb(sizes.accountsTotalBytes - sizes.accountsIndexesBytes).padEnd(10)} ${perAccount(sizes.accountsTotalBytes - sizes.accountsIndexesBytes)}`,
  );
  console.log(`  accounts, all indexes    ${mb(sizes.accountsIndexesBytes).padEnd(10)} ${perAccount(sizes.accountsIndexesBytes)}`);
  for (const index of sizes.indexes) console.log(`    ${index.name.padEnd(22)} ${mb(index.bytes).padEnd(10)} ${perAccount(index.bytes)}`);
  console.log(`  external_users, total    ${mb(sizes.externalUsersTotalBytes).padEnd(10)} ${perAccount(sizes.externalUsersTotalBytes)}`);
}
