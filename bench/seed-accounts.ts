// Seeds connected OAuth accounts the way latchkey stores them: each row's credentials and
// refresh token sealed with the project's data key and the row's associated data (through
// latchkey's own vault), next_refresh_at planned by latchkey's own schedule. The rows are then
// indistinguishable from accounts connected through the Connect flow: the server opens, serves
// and refreshes them.
//
// This is the only bench file that imports latchkey's code (src/): when modules move, fix the
// paths here.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { sealCredentials, sealRefreshToken } from '../src/accounts/account-secrets.ts';
import { createProject } from '../src/admin/admin.service.ts';
import { parseKeyring } from '../src/crypto/keyring.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import type { Database } from '../src/db/types.ts';
import { Vault } from '../src/keys/vault.ts';
import { createOAuthApp } from '../src/oauth-apps/oauth-apps.service.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from '../src/registry/loader.ts';
import type { AppRegistry, RegistryOAuthApp } from '../src/registry/registry.ts';
import { planNextRefresh } from '../src/accounts/token-schedule.ts';
import {
  BENCH_APP_SLUG,
  BENCH_CLIENT_ID,
  TOKEN_LIFETIME_SECONDS,
  benchAccountId,
  benchCredentials,
  benchExternalId,
  benchRefreshToken,
  benchUserId,
} from './lib/bench-accounts.ts';

export interface SeedTarget {
  /** PostgreSQL; undefined selects the embedded database in dataDir (the server must be stopped). */
  databaseUrl: string | undefined;
  dataDir: string;
  /** LATCHKEY_KEYS of the server that will read the rows. */
  keys: string;
  /** The folder holding the bench app's registry entry (as given to the server). */
  registryDir: string;
}

export interface SeedSession {
  readonly target: SeedTarget;
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly registry: AppRegistry;
  readonly app: RegistryOAuthApp;
  close(): Promise<void>;
}

export interface BenchProject {
  projectId: string;
  oauthAppId: string;
}

export interface SeedPlan {
  project: BenchProject;
  /** Accounts first … first+count-1 are written. */
  first: number;
  count: number;
  /** When account n's access token expires. It was issued TOKEN_LIFETIME_SECONDS before. */
  expiresAt: (index: number) => Date;
  /** Rows per COPY chunk or INSERT statement. */
  batchSize?: number;
  onProgress?: (written: number) => void;
}

export async function openSeedSession(target: SeedTarget): Promise<SeedSession> {
  const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR, target.registryDir], insecureLoopback: true });
  const handle: DatabaseHandle = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir, poolSize: 2 });
  await migrateToLatest(handle.db);
  const app = registry.get(BENCH_APP_SLUG);
  if (app?.auth_type !== 'oauth') throw new Error(`${target.registryDir} has no oauth app ${BENCH_APP_SLUG}`);
  const vault = new Vault(handle.db, parseKeyring(target.keys));
  return { target, db: handle.db, vault, registry, app, close: () => handle.close() };
}

/** The OAuth app of a project seeded earlier (bench:seed --project). */
export async function findBenchProject(session: SeedSession, projectId: string): Promise<BenchProject | undefined> {
  const row = await session.db
    .selectFrom('oauth_apps')
    .select('id')
    .where('project_id', '=', projectId)
    .where('app_slug', '=', BENCH_APP_SLUG)
    .orderBy('created_at')
    .executeTakeFirst();
  return row === undefined ? undefined : { projectId, oauthAppId: row.id };
}

/** How many accounts a project has (where an appending seed continues). */
export async function countAccounts(session: SeedSession, projectId: string): Promise<number> {
  const row = await session.db
    .selectFrom('accounts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** A project and its OAuth client for the bench app, as an operator would create them. */
export async function createBenchProject(session: SeedSession, name: string): Promise<BenchProject> {
  const project = await createProject(session.db, name);
  const oauthApp = await createOAuthApp(
    { db: session.db, vault: session.vault, registry: session.registry, publicUrl: 'https://latchkey.bench.invalid' },
    project.id,
    {
      app: BENCH_APP_SLUG,
      client_id: BENCH_CLIENT_ID,
      client_secret: 'bench-oauth-client-secret',
    },
  );
  return { projectId: project.id, oauthAppId: oauthApp.id };
}

interface SeedRow {
  userId: string;
  externalId: string;
  accountId: string;
  credentialsEnc: Buffer;
  refreshTokenEnc: Buffer;
  issuedAt: Date;
  expiresAt: Date;
  nextRefreshAt: Date | null;
}

async function sealedRow(session: SeedSession, plan: SeedPlan, index: number): Promise<SeedRow> {
  const { projectId } = plan.project;
  const accountId = benchAccountId(projectId, index);
  const location = { id: accountId, projectId, environment: 'production' as const };
  const expiresAt = plan.expiresAt(index);
  const issuedAt = new Date(expiresAt.getTime() - TOKEN_LIFETIME_SECONDS * 1000);
  return {
    userId: benchUserId(projectId, index),
    externalId: benchExternalId(index),
    accountId,
    credentialsEnc: await sealCredentials(session.vault, location, benchCredentials(index)),
    refreshTokenEnc: await sealRefreshToken(session.vault, location, benchRefreshToken(index, 0)),
    issuedAt,
    expiresAt,
    // As the Connect flow plans it at the moment the token was issued.
    nextRefreshAt: planNextRefresh(session.app, expiresAt, issuedAt.getTime()),
  };
}

/** Writes the plan's users and accounts; returns the seconds it took. */
export async function seedAccounts(session: SeedSession, plan: SeedPlan): Promise<number> {
  const started = performance.now();
  const batchSize = plan.batchSize ?? 5_000;
  const write = session.target.databaseUrl === undefined ? insertBatch : await copyWriter(session.target.databaseUrl);
  // Sealing (here, CPU) and writing (the database, another core) overlap: batch n+1 is sealed
  // while batch n is being written.
  let writing: Promise<void> | undefined;
  try {
    for (let start = plan.first; start < plan.first + plan.count; start += batchSize) {
      const end = Math.min(plan.first + plan.count, start + batchSize);
      const rows: SeedRow[] = [];
      for (let index = start; index < end; index++) rows.push(await sealedRow(session, plan, index));
      await writing;
      writing = write(session, plan, rows).then(() => plan.onProgress?.(end - plan.first));
      // Awaited on the next turn; until then a failure must not count as unhandled.
      writing.catch(() => {});
    }
    await writing;
  } finally {
    await write.close?.();
  }
  return (performance.now() - started) / 1000;
}

type BatchWriter = ((session: SeedSession, plan: SeedPlan, rows: readonly SeedRow[]) => Promise<void>) & { close?: () => Promise<void> };

/** The embedded database: multi-row INSERTs through latchkey's own Kysely instance. */
const insertBatch: BatchWriter = async (session, plan, rows) => {
  const { projectId, oauthAppId } = plan.project;
  const MAX_ROWS_PER_STATEMENT = 1_000;
  for (let i = 0; i < rows.length; i += MAX_ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + MAX_ROWS_PER_STATEMENT);
    await session.db
      .insertInto('external_users')
      .values(
        chunk.map((row) => ({
          id: row.userId,
          project_id: projectId,
          environment: 'production' as const,
          external_id: row.externalId,
          created_at: row.issuedAt,
          updated_at: row.issuedAt,
        })),
      )
      .execute();
    await session.db
      .insertInto('accounts')
      .values(chunk.map((row) => accountValues(row, projectId, oauthAppId)))
      .execute();
  }
};

function accountValues(row: SeedRow, projectId: string, oauthAppId: string) {
  return {
    id: row.accountId,
    project_id: projectId,
    environment: 'production' as const,
    external_user_id: row.userId,
    external_id: row.externalId,
    app_slug: BENCH_APP_SLUG,
    oauth_app_id: oauthAppId,
    name: `${row.externalId}@example.com`,
    credentials_enc: row.credentialsEnc,
    refresh_token_enc: row.refreshTokenEnc,
    authorized_scopes: JSON.stringify(['read']),
    expires_at: row.expiresAt,
    next_refresh_at: row.nextRefreshAt,
    created_at: row.issuedAt,
    updated_at: row.issuedAt,
  };
}

const ACCOUNT_COLUMNS = [
  'id',
  'project_id',
  'environment',
  'external_user_id',
  'external_id',
  'app_slug',
  'oauth_app_id',
  'name',
  'credentials_enc',
  'refresh_token_enc',
  'authorized_scopes',
  'expires_at',
  'next_refresh_at',
  'created_at',
  'updated_at',
] as const;

/**
 * PostgreSQL: COPY … FROM STDIN in text format, one COPY per table per batch, each batch in a
 * transaction of its own (users before their accounts: the foreign key checks them).
 */
async function copyWriter(databaseUrl: string): Promise<BatchWriter> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const copy = async (table: string, columns: readonly string[], lines: string): Promise<void> => {
    const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
    await pipeline(
      (function* () {
        yield lines;
      })(),
      stream as unknown as Writable,
    );
  };
  const writer: BatchWriter = async (_session, plan, rows) => {
    const { projectId, oauthAppId } = plan.project;
    let users = '';
    let accounts = '';
    for (const row of rows) {
      const issued = row.issuedAt.toISOString();
      users += `${row.userId}\t${projectId}\tproduction\t${row.externalId}\t${issued}\t${issued}\n`;
      const values = accountValues(row, projectId, oauthAppId);
      accounts +=
        ACCOUNT_COLUMNS.map((column) => {
          const value = values[column];
          if (value === null) return '\\N';
          if (Buffer.isBuffer(value)) return `\\\\x${value.toString('hex')}`;
          if (value instanceof Date) return value.toISOString();
          return value;
        }).join('\t') + '\n';
    }
    await client.query('begin');
    await copy('external_users', ['id', 'project_id', 'environment', 'external_id', 'created_at', 'updated_at'], users);
    await copy('accounts', ACCOUNT_COLUMNS, accounts);
    await client.query('commit');
  };
  writer.close = () => client.end();
  return writer;
}
