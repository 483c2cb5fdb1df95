// Three real latchkey processes on one PostgreSQL and a real oidc-provider with refresh-token
// rotation (reusing a rotated refresh token revokes the whole grant there, so any lost rotation
// shows up as invalid_grant). 150 concurrent SDK retrieves of an expired account spread over the
// processes must cause exactly one refresh; then 100 sequential forced refreshes must leave the
// newest refresh token stored and working. PostgreSQL only: embedded PGlite is one process.
import { createHash, randomBytes } from 'node:crypto';
import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { sql } from 'kysely';
import { insertAccount } from '../../src/accounts/account.repository.ts';
import { sealNewAccount } from '../../src/accounts/stored-account.ts';
import { mintId } from '../../src/crypto/tokens.ts';
import { createOAuthApp } from '../../src/oauth-apps/oauth-apps.service.ts';
import { loadRegistry } from '../../src/registry/loader.ts';
import { ensureExternalUser } from '../../src/users/users.service.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';
import { createTestDatabase, usingPostgres } from '../fixtures/database.ts';
import { authorizeHeadless, startOidcProvider } from '../fixtures/oidc-provider.ts';
import { registryDir, startLatchkey } from '../fixtures/refresh-process.ts';
import { assertNoPlaintext, storedTokens, type Seeded } from '../fixtures/refresh-seed.ts';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const SCOPE = 'openid offline_access api:read';

const skip = usingPostgres() ? false : 'needs LATCHKEY_TEST_DATABASE_URL: embedded PGlite serves one process only';

t.test('3 processes, 150 concurrent retrieves, one refresh; 100 forced refreshes keep the newest token', { skip }, async (t) => {
  const database = await createTestDatabase();
  t.teardown(() => database.close());
  const oidc = await startOidcProvider(t, { redirectUri: REDIRECT_URI });
  const dir = await registryDir(t, [
    {
      slug: 'oidc-refresh',
      name: 'OIDC refresh test',
      auth_type: 'oauth',
      oauth: {
        authorize_url: `${oidc.issuer}/auth`,
        token_url: `${oidc.issuer}/token`,
        scopes: SCOPE.split(' '),
        token_auth_method: 'client_secret_basic',
        pkce: true,
        rotates_refresh_token: true,
        refresh_margin_seconds: 60,
      },
    },
  ]);
  const registry = await loadRegistry({ dirs: [dir], insecureLoopback: true });

  // Seeding happens through an in-process app on the same database (not one of the three).
  const seeder = await buildTestApp(t, { database, registry });
  const client = await createProjectClient(seeder);
  const db = database.handle.db;
  const oauthApp = await createOAuthApp({ db, vault: seeder.app.vault, registry, publicUrl: seeder.config.publicUrl }, client.projectId, {
    app: 'oidc-refresh',
    client_id: oidc.clientId,
    client_secret: oidc.clientSecret,
  });

  // A real grant: authorization code with PKCE through the provider's development pages.
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${oidc.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: oidc.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    prompt: 'consent',
  }).toString();
  const callback = await authorizeHeadless(authorize.toString());
  const code = callback.searchParams.get('code');
  t.ok(code, 'authorization code');
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(oidc.clientId)}:${encodeURIComponent(oidc.clientSecret)}`).toString('base64')}`;
  const grant = (await (
    await fetch(`${oidc.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
    })
  ).json()) as { access_token: string; refresh_token: string; scope: string };
  t.ok(grant.refresh_token, 'the grant has a refresh token');

  const user = await ensureExternalUser(db, { projectId: client.projectId, environment: 'production' }, 'alice');
  const accountId = mintId('apn_');
  await insertAccount(
    db,
    await sealNewAccount(seeder.app.vault, {
      id: accountId,
      projectId: client.projectId,
      environment: 'production',
      externalUserId: user.id,
      externalId: user.external_id,
      appSlug: 'oidc-refresh',
      oauthAppId: oauthApp.id,
      name: null,
      credentials: { oauth_access_token: grant.access_token, oauth_client_id: oidc.clientId, oauth_uid: 'alice' },
      refreshToken: grant.refresh_token,
      authorizedScopes: grant.scope.split(' '),
      // Expired: every retrieve must refresh first.
      expiresAt: new Date(Date.now() - 10_000),
    }),
  );

  const processes = await Promise.all([0, 1, 2].map(() => startLatchkey(t, { databaseUrl: database.url!, registryDir: dir })));
  const clients = processes.map(
    (p) =>
      new PipedreamClient({
        baseUrl: p.url,
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        projectId: client.projectId,
        projectEnvironment: 'production',
      }),
  );
  // Each SDK client fetches its API token first, so the burst below is only credential reads.
  for (const pd of clients) t.equal((await pd.accounts.retrieve(accountId)).id, accountId);

  const refreshes = () => oidc.tokenRequests().filter((r) => r.params['grant_type'] === 'refresh_token').length;
  t.equal(refreshes(), 0);
  const results = await Promise.all(Array.from({ length: 150 }, (_, i) => clients[i % 3]!.accounts.retrieve(accountId, { includeCredentials: true })));
  t.equal(refreshes(), 1, 'exactly one refresh request reached the provider');
  const tokens = new Set(results.map((account) => account.credentials?.oauthAccessToken));
  t.equal(tokens.size, 1, 'all 150 got the same token');
  const [token] = [...tokens];
  t.not(token, grant.access_token, 'a new token');
  t.equal(token, oidc.issued.accessTokens.at(-1), "it is the provider's newest token");
  const userinfo = await fetch(`${oidc.issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(userinfo.status, 200, 'the provider accepts it');
  t.equal(((await userinfo.json()) as { sub: string }).sub, 'alice');
  const seeded = { testApp: seeder, client, oauthAppId: oauthApp.id, registry } as Seeded;
  const afterBurst = await storedTokens(seeded, accountId);
  t.hasStrict(afterBurst.row, { healthy: true, dead: false, error: null, refresh_lease_owner: null });
  t.equal(afterBurst.refreshToken, oidc.issued.refreshTokens.at(-1), 'the rotated refresh token is stored');

  // 100 sequential forced refreshes, round-robin over the processes.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${processes[i % 3]!.url}/v1/admin/projects/${client.projectId}/accounts/${accountId}/refresh`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    if (res.status !== 200) t.fail(`forced refresh ${i} answered ${res.status}: ${await res.text()}`);
  }
  t.equal(refreshes(), 101, 'one provider refresh per forced refresh');
  const final = await storedTokens(seeded, accountId);
  t.equal(final.refreshToken, oidc.issued.refreshTokens.at(-1), 'the newest refresh token is stored');
  t.equal(final.accessToken, oidc.issued.accessTokens.at(-1), 'with its access token');
  t.equal(String(final.row.credentials_version), '102');
  t.hasStrict(final.row, { healthy: true, dead: false });
  const proof = await fetch(`${oidc.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: final.refreshToken! }),
  });
  t.equal(proof.status, 200, 'the stored refresh token still works at the provider (no rotation was lost)');

  // Nothing in plaintext, in any column of any table.
  const tables = await sql<{ tablename: string }>`select tablename from pg_tables where schemaname = 'public'`.execute(db);
  let dump = '';
  for (const { tablename } of tables.rows) {
    const rows = await sql<{ row: string }>`select row_to_json(t)::text as row from ${sql.table(tablename)} as t`.execute(db);
    dump += rows.rows.map((r) => r.row).join('\n');
  }
  assertNoPlaintext(t, dump, [...oidc.issued.accessTokens, ...oidc.issued.refreshTokens, oidc.clientSecret, client.clientSecret]);
  for (const p of processes) t.notMatch(p.output(), new RegExp(oidc.issued.refreshTokens.slice(0, 5).join('|')), 'no token in a process log');
});
