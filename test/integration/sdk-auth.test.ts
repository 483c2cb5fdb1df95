// The first real-client check: the official @pipedream/sdk, pointed at latchkey on 127.0.0.1,
// gets an access token from /v1/oauth/token through its own token provider and uses it. Then
// revocation: a revoked client's token stops working within a second, on every replica (two
// app instances sharing one database), and the token check itself. Catalogue §5 items 3 and 8.
import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { AccessTokenVerifier } from '../../src/auth/access-tokens.ts';
import { TOKEN_PREFIXES, mintToken } from '../../src/crypto/tokens.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient, type TestApp } from '../fixtures/app.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

async function tokenRows(testApp: TestApp, clientId: string): Promise<number> {
  const rows = await testApp.database.handle.db.selectFrom('api_access_tokens').select('digest').where('client_id', '=', clientId).execute();
  return rows.length;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

t.test('@pipedream/sdk gets a token through its own token provider and calls the API with it', async (t) => {
  const testApp = await buildTestApp(t);
  const baseUrl = await testApp.listen();
  const { projectId, clientId, clientSecret } = await createProjectClient(testApp);
  const issuedBefore = await tokenRows(testApp, clientId);

  const client = new PipedreamClient({ baseUrl, clientId, clientSecret, projectId, projectEnvironment: 'development' });
  const token = await client.rawAccessToken;
  t.match(token, /^lka_[A-Za-z0-9]{36}$/, 'the SDK parsed access_token from our response');
  t.equal(await tokenRows(testApp, clientId), issuedBefore + 1, 'the SDK fetched exactly one token from /v1/oauth/token');
  t.match(testApp.logs(), /"url":"\/v1\/oauth\/token"/, 'the token request reached the server');
  t.equal(await client.rawAccessToken, token, 'the SDK caches it (it understood expires_in)');

  const principal = await new AccessTokenVerifier(testApp.database.handle.db).verify(token);
  t.hasStrict(principal, { kind: 'client', clientId, projectId, scopes: ['*'] }, 'the token is a live grant for this client and project');

  // A real SDK call with the token: projects.retrieveInfo → GET /v1/connect/{project_id}/projects/info.
  const info = await client.projects.retrieveInfo();
  t.same(info.apps, [], 'an authenticated SDK call succeeds');
  t.equal(await tokenRows(testApp, clientId), issuedBefore + 1, 'and reuses the token');

  // The SDK's oauthTokens resource, as a backend would call it directly.
  const direct = await client.oauthTokens.create({ clientId, clientSecret });
  t.hasStrict(direct, { tokenType: 'Bearer', expiresIn: 3600 });
  t.match(direct.accessToken, /^lka_/);
  t.not(direct.accessToken, token, 'every grant is a new token');
  const wrong = await client.oauthTokens.create({ clientId, clientSecret: `${clientSecret.slice(0, -1)}${clientSecret.endsWith('x') ? 'y' : 'x'}` }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.equal(statusOf(wrong), 401, 'a wrong secret is a 401 the SDK reports');

  const bad = new PipedreamClient({ baseUrl, clientId, clientSecret: 'lks_not-the-secret', projectId, projectEnvironment: 'development' });
  const refused = await bad.projects.retrieveInfo().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.equal(statusOf(refused), 401, 'an SDK with a wrong secret gets no further than the token endpoint');

  t.notOk(testApp.logs().includes(clientSecret), 'the client secret is not in the logs');
  t.notOk(testApp.logs().includes(token), 'the access token is not in the logs');
});

t.test('a revoked client stops working within 1 s on both replicas', async (t) => {
  const a = await buildTestApp(t);
  const b = await buildTestApp(t, { database: a.database });
  const { projectId, clientId, clientSecret, accessToken } = await createProjectClient(a);
  const bearer = { authorization: `Bearer ${accessToken}` };

  // Two probes through each replica's real token check: a project route (200 → 401) and an admin
  // route, where a valid client is "authenticated but not an admin" (403 → 401).
  const probe = async (replica: TestApp): Promise<[number, number]> => {
    const info = await replica.app.server.inject({ method: 'GET', url: `/v1/connect/${projectId}/projects/info`, headers: bearer });
    const adminRoute = await replica.app.server.inject({ method: 'GET', url: '/v1/admin/projects', headers: bearer });
    return [info.statusCode, adminRoute.statusCode];
  };
  t.same(await probe(a), [200, 403], 'replica a accepts the token (and has now cached it)');
  t.same(await probe(b), [200, 403], 'replica b accepts the token (and has now cached it)');

  // The SDK against replica b, holding the same client's token.
  const baseUrl = await b.listen();
  const sdk = new PipedreamClient({ baseUrl, clientId, clientSecret, projectId, projectEnvironment: 'production' });
  await sdk.projects.retrieveInfo();

  const revoke = await a.app.server.inject({ method: 'DELETE', url: `/v1/admin/projects/${projectId}/clients/${clientId}`, headers: admin });
  t.equal(revoke.statusCode, 204, 'revoked through replica a');
  const revokedAt = Date.now();

  const waitFor401 = async (check: () => Promise<boolean>): Promise<number> => {
    for (;;) {
      if (await check()) return Date.now() - revokedAt;
      if (Date.now() - revokedAt > 3000) return Infinity;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const [onA, onB, onSdk] = await Promise.all([
    waitFor401(async () => (await probe(a)).every((status) => status === 401)),
    waitFor401(async () => (await probe(b)).every((status) => status === 401)),
    waitFor401(() =>
      sdk.projects.retrieveInfo().then(
        () => false,
        (err: unknown) => statusOf(err) === 401,
      ),
    ),
  ]);
  t.ok(onA <= 1000, `replica a refuses the token after ${onA} ms`);
  t.ok(onB <= 1000, `replica b refuses the token after ${onB} ms`);
  t.ok(onSdk <= 1000, `the SDK on replica b gets 401 after ${onSdk} ms`);

  // And it stays refused: no cache brings it back, and the client cannot get a new token.
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.same(await probe(a), [401, 401]);
  t.same(await probe(b), [401, 401]);
  const again = await b.app.server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
  });
  t.equal(again.statusCode, 401, 'a revoked client gets no new token');
  t.equal(again.json().error, 'invalid_client');
});

t.test('the token check on a request: no query for a bad checksum, one read per token per 500 ms, never a write', async (t) => {
  const testApp = await buildTestApp(t);
  const { accessToken } = await createProjectClient(testApp);
  const queries: string[] = [];
  const counted = testApp.database.handle.db.withPlugin({
    transformQuery: (args) => {
      queries.push(args.node.kind);
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  let now = Date.now();
  const verifier = new AccessTokenVerifier(counted, () => now);

  const forged = `${accessToken.slice(0, -1)}${accessToken.endsWith('0') ? '1' : '0'}`;
  t.equal(await verifier.verify(forged), null, 'a bad checksum is refused');
  t.equal(await verifier.verify('lka_short'), null, 'a bad shape is refused');
  t.equal(await verifier.verify(`Bearer ${accessToken}`), null);
  t.same(queries, [], 'without touching the database');

  t.ok(await verifier.verify(accessToken), 'a valid token is accepted');
  t.ok(await verifier.verify(accessToken), 'again');
  t.same(queries, ['SelectQueryNode'], 'one read, then the cache');
  now += 600;
  t.ok(await verifier.verify(accessToken));
  t.same(queries, ['SelectQueryNode', 'SelectQueryNode'], 're-read after the cache window: revocation is seen');
  now += 600;
  const concurrent = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(accessToken)));
  t.equal(concurrent.filter((principal) => principal?.kind === 'client').length, 20, 'twenty requests at once are all accepted');
  t.same(queries, ['SelectQueryNode', 'SelectQueryNode', 'SelectQueryNode'], 'with one read between them');

  const unknown = `lka_${'A'.repeat(30)}`;
  const wellFormedUnknown = mintToken(TOKEN_PREFIXES.apiAccessToken);
  t.equal(await verifier.verify(wellFormedUnknown), null, 'a well-formed unknown token is refused');
  t.equal(await verifier.verify(unknown), null);
  t.ok(
    queries.every((kind) => kind === 'SelectQueryNode'),
    'the check never writes',
  );
});
