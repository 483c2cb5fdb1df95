// The credential-fetch benchmark: one latchkey app in this process on 127.0.0.1, autocannon in
// a child process (so the load generator does not share the server's event loop), run one
// after the other in the same run:
//   1. GET /v1/connect/{pid}/accounts/{id}?include_credentials=true with a bearer (fresh token:
//      no refresh; the hot path: token check from cache, one primary-key SELECT, the opened
//      credentials (reused while the row's ciphertexts are unchanged), serialisation, a buffered
//      audit entry); once more with that reuse switched off (two AES-GCM opens per request);
//   2. the baseline: a bare route, registered here only, doing one primary-key SELECT of the same
//      row plus one AES-256-GCM decrypt of a value of the same size, no auth;
//   3. an authenticated no-op vs 4. unauthenticated /healthz (the token-check path's cost).
// Target: (1) ≥ 0.8 × (2) in requests per second. (1) and (2) alternate for BENCH_ROUNDS rounds
// (default 3, order swapped every round) and the median ratio counts, because on a shared machine
// one 10-second slice can be slowed by anything; the server's own CPU time per request is printed
// as well, as it hardly depends on other load.
//
// Database: BENCH_DATABASE_URL, else the local PostgreSQL at postgres://postgres@127.0.0.1:5432/test
// (a throwaway database is created on that server and dropped afterwards), else embedded PGlite.
// BENCH_DATABASE=pglite forces PGlite. BENCH_CONNECTIONS (50) and BENCH_SECONDS (10) tune autocannon.
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { insertAccount } from '../src/accounts/account.repository.ts';
import { RecentCredentials, openAccountSecrets } from '../src/accounts/account-secrets.ts';
import { sealNewAccount } from '../src/accounts/stored-account.ts';
import { createClient, createProject } from '../src/admin/admin.service.ts';
import { buildApp } from '../src/app.ts';
import { AccessTokenVerifier, issueAccessToken } from '../src/auth/access-tokens.ts';
import { createAuthenticator } from '../src/auth/authenticate.ts';
import { loadConfig } from '../src/config.ts';
import { parseKeyring } from '../src/crypto/keyring.ts';
import { mintId } from '../src/crypto/tokens.ts';
import { openEmbedded, openPostgres, type DatabaseHandle } from '../src/db/connect.ts';
import { migrateToLatest } from '../src/db/migrator.ts';
import { createOAuthApp } from '../src/oauth-apps/oauth-apps.service.ts';
import { normalizeApp } from '../src/registry/normalize.ts';
import { registryOf } from '../src/registry/registry.ts';
import { ensureExternalUser } from '../src/users/users.service.ts';

const TARGET_RATIO = 0.8;
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 50);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 3));
const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/test';

interface BenchDatabase {
  handle: DatabaseHandle;
  label: string;
  drop(): Promise<void>;
}

async function tryConnect(url: string): Promise<pg.Client | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    // The server is there but the named database is not: administer through `postgres`.
    if ((err as { code?: string }).code === '3D000') {
      const admin = new URL(url);
      admin.pathname = '/postgres';
      return tryConnect(admin.toString());
    }
    return undefined;
  }
}

async function openBenchDatabase(): Promise<BenchDatabase> {
  if (process.env['BENCH_DATABASE'] !== 'pglite') {
    const serverUrl = process.env['BENCH_DATABASE_URL'] ?? DEFAULT_SERVER_URL;
    const admin = await tryConnect(serverUrl);
    if (admin !== undefined) {
      const name = `lk_bench_${randomBytes(5).toString('hex')}`;
      await admin.query(`create database ${name}`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      const handle = openPostgres(url.toString(), loadConfig({}).databasePoolSize);
      await migrateToLatest(handle.db);
      return {
        handle,
        label: `PostgreSQL ${url.host} (throwaway database ${name}, pool ${loadConfig({}).databasePoolSize})`,
        drop: async () => {
          await handle.close();
          await admin.query(`drop database if exists ${name} with (force)`);
          await admin.end();
        },
      };
    }
    if (process.env['BENCH_DATABASE_URL'] !== undefined) throw new Error('BENCH_DATABASE_URL is not reachable');
  }
  const handle = openEmbedded(await PGlite.create());
  await migrateToLatest(handle.db);
  return { handle, label: 'embedded PGlite (in memory)', drop: () => handle.close() };
}

interface Run {
  name: string;
  reqPerSec: number;
  p50: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
  /** This process's (the server's) CPU time per request. */
  cpuMicrosPerRequest: number;
}

async function autocannon(name: string, url: string, headers: Record<string, string>, seconds = SECONDS): Promise<Run> {
  const cpuBefore = process.cpuUsage();
  const run = await autocannonProcess(name, url, headers, seconds);
  const cpu = process.cpuUsage(cpuBefore);
  return { ...run, cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(1, run.total) };
}

function autocannonProcess(name: string, url: string, headers: Record<string, string>, seconds: number): Promise<Omit<Run, 'cpuMicrosPerRequest'>> {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [bin, '-c', String(CONNECTIONS), '-d', String(seconds), '-j'];
  for (const [key, value] of Object.entries(headers)) args.push('-H', `${key}=${value}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}`));
      const result = JSON.parse(out.trim().split('\n').at(-1)!) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
      };
      resolve({
        name,
        reqPerSec: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        total: result.requests.total,
        non2xx: result.non2xx,
        errors: result.errors,
      });
    });
  });
}

const database = await openBenchDatabase();
const db = database.handle.db;
try {
  const config = loadConfig({
    LATCHKEY_KEYS: `bench1:${randomBytes(32).toString('base64')}`,
    LATCHKEY_ADMIN_TOKEN: randomBytes(24).toString('hex'),
    LATCHKEY_BACKGROUND_JOBS: 'false',
    PORT: '0',
  });
  const keyring = parseKeyring(config.keys!);
  const registry = registryOf([
    normalizeApp(
      {
        slug: 'benchauth',
        name: 'Bench',
        auth_type: 'oauth',
        oauth: { authorize_url: 'https://bench.invalid/authorize', token_url: 'https://bench.invalid/token', scopes: ['read'] },
      },
      'bench',
    ),
  ]);
  const app = await buildApp({ config, database: database.handle, keyring, registry });

  // Seed: a project, a client with an access token, the project's OAuth app, an account.
  const project = await createProject(db, 'bench');
  const client = await createClient(db, project.id, {});
  const { token } = await issueAccessToken(db, { clientId: client.client_id, projectId: project.id, scopes: ['*'] });
  const oauthApp = await createOAuthApp({ db, vault: app.vault, registry, publicUrl: config.publicUrl }, project.id, {
    app: 'benchauth',
    client_id: 'bench-client',
    client_secret: randomBytes(20).toString('hex'),
  });
  const user = await ensureExternalUser(db, { projectId: project.id, environment: 'production' }, 'bench-user');
  const accountId = mintId('apn_');
  const credentials = {
    oauth_access_token: `ya29.${randomBytes(96).toString('base64url')}`,
    oauth_client_id: 'bench-client',
    oauth_uid: 'bench-user@example.com',
  };
  const accountRow = await sealNewAccount(app.vault, {
    id: accountId,
    projectId: project.id,
    environment: 'production',
    externalUserId: user.id,
    externalId: user.external_id,
    appSlug: 'benchauth',
    oauthAppId: oauthApp.id,
    name: 'bench-user@example.com',
    credentials,
    refreshToken: `1//${randomBytes(64).toString('base64url')}`,
    authorizedScopes: ['read'],
    expiresAt: new Date(Date.now() + 24 * 3600 * 1000),
  });
  await insertAccount(db, accountRow);

  // The baseline: bench-only routes, never part of the product.
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const plaintext = Buffer.from(JSON.stringify(credentials), 'utf8');
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  app.server.get<{ Params: { id: string } }>('/bench/baseline/:id', async (request) => {
    const row = await db.selectFrom('accounts').selectAll().where('id', '=', request.params.id).executeTakeFirstOrThrow();
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAuthTag(tag);
    const opened = Buffer.concat([decipher.update(sealed), decipher.final()]);
    return { id: row.id, credentials: JSON.parse(opened.toString('utf8')) as unknown };
  });
  const auth = createAuthenticator(new AccessTokenVerifier(db), undefined);
  app.server.get('/bench/auth-noop/:project_id', { preHandler: auth.requireProjectScope('connect:accounts:read') }, async () => ({ ok: true }));

  await app.server.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;
  const bearer = { authorization: `Bearer ${token}` };
  const credentialUrl = `${base}/v1/connect/${project.id}/accounts/${accountId}?include_credentials=true`;

  const check = await fetch(credentialUrl, { headers: bearer });
  const body = (await check.json()) as { credentials?: { oauth_access_token?: string } };
  if (check.status !== 200 || body.credentials?.oauth_access_token !== credentials.oauth_access_token) {
    throw new Error(`the credential fetch does not work (status ${check.status})`);
  }

  console.log(
    `credential-fetch benchmark: ${database.label}; autocannon -c ${CONNECTIONS} -d ${SECONDS} per run, ${ROUNDS} alternating rounds of fetch and baseline`,
  );
  const fetchRoute = 'credential fetch (include_credentials, fresh token)';
  const baselineRoute = 'baseline: PK SELECT + AES-256-GCM decrypt';
  const runFetch = () => autocannon(fetchRoute, credentialUrl, bearer);
  const runBaseline = () => autocannon(baselineRoute, `${base}/bench/baseline/${accountId}`, {});
  await autocannon('warm-up', credentialUrl, bearer, 2);
  await autocannon('warm-up', `${base}/bench/baseline/${accountId}`, {}, 2);
  const runs: Run[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let fetchRun: Run;
    let baselineRun: Run;
    if (round % 2 === 0) {
      fetchRun = await runFetch();
      baselineRun = await runBaseline();
    } else {
      baselineRun = await runBaseline();
      fetchRun = await runFetch();
    }
    runs.push(fetchRun, baselineRun);
    ratios.push(fetchRun.reqPerSec / baselineRun.reqPerSec);
  }
  // The same fetch with every read decrypting (as for an account not read in the last minute).
  const reuse = RecentCredentials.prototype.open;
  RecentCredentials.prototype.open = function (this: RecentCredentials, row) {
    return openAccountSecrets(app.vault, row);
  };
  const coldRun = await autocannon('credential fetch, decrypting every time', credentialUrl, bearer);
  RecentCredentials.prototype.open = reuse;
  runs.push(coldRun);
  const authRun = await autocannon('authenticated no-op (bearer check)', `${base}/bench/auth-noop/${project.id}`, bearer);
  const healthRun = await autocannon('unauthenticated /healthz', `${base}/healthz`, {});
  runs.push(authRun, healthRun);
  await app.auditLog.flush();
  const audited = await db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('action', '=', 'credentials.read')
    .executeTakeFirstOrThrow();
  await app.server.close();

  const pad = (value: string, width: number) => value.padEnd(width);
  console.log(`${pad('route', 52)} ${pad('req/s', 8)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} ${pad('requests', 9)} ${pad('CPU µs/req', 11)} non-2xx/errors`);
  for (const run of runs) {
    console.log(
      `${pad(run.name, 52)} ${pad(run.reqPerSec.toFixed(0), 8)} ${pad(String(run.p50), 7)} ${pad(String(run.p99), 7)} ${pad(String(run.total), 9)} ${pad(run.cpuMicrosPerRequest.toFixed(0), 11)} ${run.non2xx}/${run.errors}`,
    );
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const of = (name: string) => runs.filter((run) => run.name === name);
  const ratio = median(ratios);
  const cpuRatio = median(of(baselineRoute).map((run) => run.cpuMicrosPerRequest)) / median(of(fetchRoute).map((run) => run.cpuMicrosPerRequest));
  console.log(
    `credential fetch / baseline, req/s: ${ratios.map((r) => r.toFixed(2)).join(', ')} → median ${ratio.toFixed(2)} (target ≥ ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'})`,
  );
  console.log(`credential fetch / baseline, by server CPU per request: ${cpuRatio.toFixed(2)}`);
  console.log(
    `decrypting every time: ${(coldRun.reqPerSec / median(of(baselineRoute).map((run) => run.reqPerSec))).toFixed(2)} of the baseline's median req/s, ${(median(of(baselineRoute).map((run) => run.cpuMicrosPerRequest)) / coldRun.cpuMicrosPerRequest).toFixed(2)} by CPU`,
  );
  console.log(
    `p99: credential fetch ${median(of(fetchRoute).map((run) => run.p99))} ms, baseline ${median(of(baselineRoute).map((run) => run.p99))} ms (medians)`,
  );
  console.log(
    `authenticated no-op / healthz: ${(authRun.reqPerSec / healthRun.reqPerSec).toFixed(2)} req/s; the bearer check costs ${(authRun.cpuMicrosPerRequest - healthRun.cpuMicrosPerRequest).toFixed(0)} µs CPU per request`,
  );
  console.log(`audit entries for the credential reads of this run (warm-ups included): ${audited.n}, written in batches off the hot path`);
  if (runs.some((run) => run.non2xx > 0 || run.errors > 0)) {
    console.log('some requests failed: the figures are not valid');
    process.exitCode = 1;
  }
  if (ratio < TARGET_RATIO) process.exitCode = 1;
} finally {
  await database.drop();
}
