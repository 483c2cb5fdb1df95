// Opens the database: PostgreSQL through a pg pool when DATABASE_URL is set, embedded PGlite
// (file-backed, in LATCHKEY_DATA_DIR) otherwise. Both speak the same SQL through Kysely.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql, type KyselyPlugin, type QueryResult, type UnknownRow } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import { acquireEmbeddedLock } from './embedded-lock.ts';
import { namingPreparedStatements } from './prepared-statements.ts';
import type { Database } from './types.ts';

export type DatabaseKind = 'postgres' | 'embedded';

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly kind: DatabaseKind;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly poolSize: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined) return openPostgres(options.databaseUrl, options.poolSize);
  const dir = path.join(options.dataDir, 'pgdata');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = await acquireEmbeddedLock(options.dataDir);
  let handle: DatabaseHandle;
  try {
    handle = openEmbedded(await PGlite.create(dir, { startParams: EMBEDDED_START_PARAMS }));
  } catch (err) {
    await lock.release();
    throw err;
  }
  return {
    ...handle,
    close: async () => {
      try {
        await handle.close();
      } finally {
        await lock.release();
      }
    },
  };
}

/**
 * PGlite's own start parameters plus a 16 MB buffer pool instead of PostgreSQL's 128 MB: the pool
 * lives in the WASM heap, which never shrinks, and an embedded database is small. Measured with
 * bench/pglite-memory.ts: a reopen takes about 230 MB of RSS instead of 360 MB, a first start
 * (initdb) about 800 MB at its peak instead of 950 MB.
 */
const EMBEDDED_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

export function openPostgres(connectionString: string, poolSize: number): DatabaseHandle {
  const pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000 });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: namingPreparedStatements(pool) }) });
  return { db, kind: 'postgres', ping: () => ping(db), close: () => db.destroy() };
}

export function openEmbedded(pglite: PGlite): DatabaseHandle {
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite), plugins: [byteaAsBuffer] });
  return { db, kind: 'embedded', ping: () => ping(db), close: () => db.destroy() };
}

// PGlite returns bytea as a plain Uint8Array where pg returns a Buffer; Buffer methods
// (toString('utf8'), equals) silently misbehave on a Uint8Array, so make both drivers agree.
const byteaAsBuffer: KyselyPlugin = {
  transformQuery: (args) => args.node,
  transformResult: async (args) => {
    for (const row of args.result.rows as UnknownRow[]) {
      for (const [key, value] of Object.entries(row)) {
        if (value instanceof Uint8Array && !Buffer.isBuffer(value)) row[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      }
    }
    return args.result as QueryResult<UnknownRow>;
  },
};

async function ping(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
