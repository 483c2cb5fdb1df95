// Issue 10, Medium 3: an unauthenticated flood of wrong secrets to POST /v1/oauth/token (unknown
// client ids run the decoy hash too) took a real client's token request from 15 ms to 4 s and the
// credential fetch p99 from 20 to 316 ms. The argon2 work is now bounded: a per-address limit
// before the body is read, a per-client limit before the secret is verified (429 slow_down), a
// fixed verification pool that answers 503 temporarily_unavailable at once when full (known
// clients first), and Pipedream's 100 connect tokens per minute per external user. Every answer
// here is asserted exactly; latencies are printed as comments (measured, not asserted).
// Catalogue §5 item 58.
import { performance } from 'node:perf_hooks';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { Agent, request } from 'undici';
import { keysTestApp, seedAccount, seedProject } from '../fixtures/refresh-seed.ts';

const wrongSecret = (clientId: string): InjectOptions => ({
  method: 'POST',
  url: '/v1/oauth/token',
  payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'lks_wrong' },
});

t.test('the per-address and per-client limits answer 429 slow_down with Retry-After before any argon2', async (t) => {
  const seeded = await seedProject(t, {
    apps: [keysTestApp('keyapp')],
    app: { env: { LATCHKEY_TOKEN_RATE_LIMIT_PER_ADDRESS: '6', LATCHKEY_TOKEN_RATE_LIMIT_PER_CLIENT: '3' } },
  });
  const server = seeded.testApp.app.server;
  const { clientId, clientSecret } = seeded.client;

  // Per client: three tries of this id a minute (createProjectClient's token request was the
  // first), then 429; from another address, so only this limit counts.
  const fromElsewhere = { remoteAddress: '127.0.0.9' };
  const perClient = [];
  for (let i = 0; i < 3; i++) perClient.push(await server.inject({ ...wrongSecret(clientId), ...fromElsewhere }));
  t.same(
    perClient.map((res) => res.statusCode),
    [401, 401, 429],
    'the fourth request naming one client id is refused',
  );
  t.same(perClient[2]!.json(), { error: 'slow_down', error_description: 'too many token requests; retry after the retry-after header' });
  t.match(perClient[2]!.headers['retry-after'], /^[1-9]\d*$/, 'with Retry-After in seconds');
  t.equal(perClient[2]!.headers['cache-control'], 'no-store');
  const otherId = await server.inject({ ...wrongSecret('lkc_other0000000000'), ...fromElsewhere });
  t.equal(otherId.statusCode, 401, 'another client id from the same address is not limited by it');

  // Per address: 127.0.0.2 gets six requests a minute, whatever the client id.
  const fromAttacker = { remoteAddress: '127.0.0.2' };
  const perAddress = [];
  for (let i = 0; i < 7; i++) perAddress.push(await server.inject({ ...wrongSecret(`lkc_made${i}up000000000`), ...fromAttacker }));
  t.same(
    perAddress.map((res) => res.statusCode),
    [401, 401, 401, 401, 401, 401, 429],
    'the seventh request of one address is refused',
  );
  t.equal(perAddress[6]!.json().error, 'slow_down');

  // The real client, from its own address, is not touched by either.
  const real = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
    remoteAddress: '127.0.0.3',
  });
  t.equal(real.statusCode, 429, 'the real client id is locked for this minute too: its limit counts every try (README says so)');
});

t.test('a full verification pool answers 503 temporarily_unavailable at once; known clients are served first', async (t) => {
  const seeded = await seedProject(t, {
    apps: [keysTestApp('keyapp')],
    app: { env: { LATCHKEY_ARGON2_CONCURRENCY: '1', LATCHKEY_ARGON2_QUEUE: '2', LATCHKEY_TOKEN_RATE_LIMIT_PER_ADDRESS: '100000' } },
  });
  const server = seeded.testApp.app.server;
  const { clientId, clientSecret } = seeded.client;
  // Ids no client can have (not lkc_…): no database lookup, so all 30 reach the pool at once.
  const flood = Array.from({ length: 30 }, (_, i) => server.inject(wrongSecret(`flood-${i}`)));
  const real = server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
  });
  const answers = await Promise.all(flood);
  const counts = { 401: 0, 503: 0 } as Record<number, number>;
  for (const res of answers) counts[res.statusCode] = (counts[res.statusCode] ?? 0) + 1;
  // One running and two waiting of the unknown lane were verified; the other 27 were refused at once.
  t.same(counts, { 401: 3, 503: 27 }, '3 verified (1 running + 2 queued), 27 refused');
  const busy = answers.find((res) => res.statusCode === 503)!;
  t.same(busy.json(), {
    error: 'temporarily_unavailable',
    error_description: 'the server is busy verifying client secrets; retry after the retry-after header',
  });
  t.equal(busy.headers['retry-after'], '1');
  t.equal((await real).statusCode, 200, 'the real client, in its own lane, got its token during the flood');
});

t.test('connect tokens: 100 per minute per external user (Pipedream), a 429 with Retry-After after that', async (t) => {
  const seeded = await seedProject(t, { apps: [keysTestApp('keyapp')], app: { env: { LATCHKEY_CONNECT_TOKENS_PER_USER_PER_MINUTE: '3' } } });
  const server = seeded.testApp.app.server;
  const mint = (externalUserId: string, environment = 'production') =>
    server.inject({
      method: 'POST',
      url: `/v1/connect/${seeded.client.projectId}/tokens`,
      headers: { authorization: `Bearer ${seeded.client.accessToken}`, 'x-pd-environment': environment },
      payload: { external_user_id: externalUserId },
    });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await mint('alice')).statusCode);
  t.same(statuses, [200, 200, 200, 429], 'the fourth token for alice in a minute is refused');
  const refused = await mint('alice');
  t.equal(refused.json().error.code, 'too_many_requests');
  t.match(refused.headers['retry-after'], /^[1-9]\d*$/);
  t.equal((await mint('bob')).statusCode, 200, 'bob has a limit of his own');
  t.equal((await mint('alice', 'development')).statusCode, 200, "alice's development user is another user");
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const describe = (values: number[]): string =>
  `n=${values.length} p50=${percentile(values, 50).toFixed(1)} ms p99=${percentile(values, 99).toFixed(1)} ms max=${Math.max(...values).toFixed(1)} ms`;

t.test('a bounded flood on loopback: real token requests and credential fetches keep working, nothing 5xx but the documented 503', async (t) => {
  const seeded = await seedProject(t, { apps: [keysTestApp('keyapp')] });
  const base = await seeded.testApp.listen();
  const accountId = await seedAccount(seeded, { appSlug: 'keyapp', credentials: { api_key: 'sk_flood_test' } });
  const { projectId, clientId, clientSecret, accessToken } = seeded.client;
  const real = new Agent({ connections: 4 });
  const attackers = Array.from({ length: 8 }, (_, i) => new Agent({ connections: 4, localAddress: `127.0.0.${i + 10}` }));
  t.teardown(async () => Promise.all([real, ...attackers].map((agent) => agent.close())));

  const fetchCredentials = async (): Promise<number> => {
    const started = performance.now();
    const res = await request(`${base}/v1/connect/${projectId}/accounts/${accountId}?include_credentials=true`, {
      dispatcher: real,
      headers: { authorization: `Bearer ${accessToken}` },
    });
    const body = (await res.body.json()) as { credentials?: { api_key?: string } };
    if (res.statusCode !== 200 || body.credentials?.api_key !== 'sk_flood_test') throw new Error(`credential fetch answered ${res.statusCode}`);
    return performance.now() - started;
  };
  const realToken = async (): Promise<{ status: number; ms: number }> => {
    const started = performance.now();
    const res = await request(`${base}/v1/oauth/token`, {
      method: 'POST',
      dispatcher: real,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
    });
    await res.body.dump();
    return { status: res.statusCode, ms: performance.now() - started };
  };

  // Baseline, no flood.
  const baselineFetches: number[] = [];
  for (let i = 0; i < 200; i++) baselineFetches.push(await fetchCredentials());
  const baselineTokens: number[] = [];
  for (let i = 0; i < 5; i++) baselineTokens.push((await realToken()).ms);

  // The flood: 3,000 wrong-secret requests from 8 loopback addresses, 32 in flight, half of them
  // for unknown client ids (the decoy hash), half for the real client id's neighbour.
  const FLOOD = 3000;
  const floodStatuses: Record<number, number> = {};
  let sent = 0;
  let flooding = true;
  const floodStarted = performance.now();
  const worker = async (n: number): Promise<void> => {
    while (sent < FLOOD) {
      const i = sent++;
      const res = await request(`${base}/v1/oauth/token`, {
        method: 'POST',
        dispatcher: attackers[(n + i) % attackers.length]!,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'client_credentials',
          client_id: i % 2 === 0 ? `lkc_flood${i}` : `${clientId.slice(0, -1)}x`,
          client_secret: 'lks_wrong',
        }),
      });
      await res.body.dump();
      floodStatuses[res.statusCode] = (floodStatuses[res.statusCode] ?? 0) + 1;
    }
  };
  const floodDone = Promise.all(Array.from({ length: 32 }, (_, n) => worker(n))).then(() => {
    flooding = false;
  });
  const duringFetches: number[] = [];
  const duringTokens: { status: number; ms: number }[] = [];
  // A real token request once a second: a real client asks rarely (its tokens last an hour),
  // and more than 60 a minute would be its own per-client limit, not the flood.
  let nextToken = performance.now();
  while (flooding) {
    duringFetches.push(await fetchCredentials());
    if (performance.now() >= nextToken) {
      duringTokens.push(await realToken());
      nextToken = performance.now() + 1000;
    }
  }
  await floodDone;
  const floodSeconds = (performance.now() - floodStarted) / 1000;

  t.comment(`flood: ${FLOOD} requests in ${floodSeconds.toFixed(1)} s (${(FLOOD / floodSeconds).toFixed(0)}/s), answers ${JSON.stringify(floodStatuses)}`);
  t.comment(`credential fetch, baseline: ${describe(baselineFetches)}`);
  t.comment(`credential fetch, during the flood: ${describe(duringFetches)}`);
  t.comment(`real token request, baseline: ${describe(baselineTokens)}`);
  t.comment(`real token request, during the flood: ${describe(duringTokens.map((token) => token.ms))}`);

  t.equal(
    Object.values(floodStatuses).reduce((a, b) => a + b, 0),
    FLOOD,
    'every flood request was answered',
  );
  t.same(
    Object.keys(floodStatuses).filter((status) => !['401', '429', '503'].includes(status)),
    [],
    'the flood got only 401, 429 and the documented 503',
  );
  t.ok((floodStatuses[429] ?? 0) > 0, 'the per-address limit refused most of it');
  t.ok(duringFetches.length > 0, 'credential fetches ran during the flood');
  t.same(
    duringTokens.filter((token) => token.status !== 200),
    [],
    'every real token request during the flood got its token',
  );
});
