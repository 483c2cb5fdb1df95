// A PostgreSQL database that lives for one benchmark run: created on the given server, dropped
// afterwards (also when the run fails), so figures never depend on what an earlier run left.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface ThrowawayDatabase {
  readonly name: string;
  readonly url: string;
  /** A connection to the server's `postgres` database, for statistics and sizes. */
  readonly admin: pg.Client;
  drop(): Promise<void>;
}

export async function createThrowawayDatabase(serverUrl = process.env['BENCH_DATABASE_URL'] ?? DEFAULT_SERVER_URL): Promise<ThrowawayDatabase> {
  const adminUrl = new URL(serverUrl);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString(), connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (cause) {
    throw new Error(`no PostgreSQL server at ${adminUrl.host} (set BENCH_DATABASE_URL)`, { cause });
  }
  const name = `lk_bench_${randomBytes(5).toString('hex')}`;
  await admin.query(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    admin,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}
