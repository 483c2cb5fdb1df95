// The proxy's limits: the per-project rate limit (429 with an exact Retry-After, from the app's
// clock), the upstream deadlines (504 upstream_timeout), the response cap (502 before the answer
// starts when the length is declared, a cut-off stream when it is not), the request body cap
// (413, nothing sent) and an upstream that cannot be reached (502 upstream_unreachable).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { registryFromDefinitions } from '../../src/registry/loader.ts';
import { createProjectClient } from '../fixtures/app.ts';
import { freePort } from '../fixtures/connect-env.ts';
import { seedAccount, seedProject, type Seeded } from '../fixtures/refresh-seed.ts';

const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');
const KEY = 'limits-key-0123456789';

async function upstreamServer(t: Test): Promise<{ origin: string; received: string[] }> {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    received.push(`${req.method} ${req.url}`);
    // Answers once the whole request body has arrived, never before.
    req.resume().once('end', () => answer(req, res));
  });
  const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.url === '/api/hang') return; // never answers
    if (req.url === '/api/big') return void res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5000' }).end('x'.repeat(5000));
    if (req.url === '/api/chunked-big') {
      // Small chunks, apart in time: the answer starts within the cap and outgrows it later.
      res.writeHead(200, { 'content-type': 'text/plain' });
      void (async () => {
        for (let i = 0; i < 10; i++) {
          res.write('y'.repeat(500));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        res.end();
      })();
      return;
    }
    if (req.url === '/api/chunked-burst') {
      // The whole oversized body at once, no length declared: past the cap before a byte is sent on.
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('z'.repeat(5000));
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

async function setup(t: Test, clock: { ms: number }) {
  const upstream = await upstreamServer(t);
  const closedPort = await freePort();
  const keysApp = (slug: string, base: string) => ({
    slug,
    name: slug,
    auth_type: 'keys',
    fields: [{ name: 'api_key', label: 'API key', secret: true }],
    api: { base_url: base, auth: { type: 'header', headers: { 'x-key': '{api_key}' } } },
  });
  const apps = registryFromDefinitions([keysApp('limits-api', `${upstream.origin}/api`), keysApp('limits-closed', `http://127.0.0.1:${closedPort}`)], {
    insecureLoopback: true,
  }).list();
  const seeded = await seedProject(t, {
    apps: [...apps],
    app: {
      env: { LATCHKEY_PROXY_RATE_LIMIT: '3', LATCHKEY_PROXY_RATE_WINDOW_SECONDS: '60' },
      tuning: {
        now: () => new Date(clock.ms),
        proxy: {
          timeouts: { firstByteMs: 300, bodyIdleMs: 300, totalMs: 2000 },
          bodies: { maxRequestBytes: 1000, maxResponseBytes: 2000, replayableBytes: 500 },
        },
      },
    },
  });
  const account = (slug: string, s: Seeded = seeded) =>
    seedAccount(s, { appSlug: slug, credentials: { api_key: KEY }, oauthAppId: null, refreshToken: null, expiresInSeconds: null });
  return { seeded, upstream, account };
}

function call(seeded: Seeded, accountId: string, target: string, options: { method?: 'GET' | 'POST'; body?: string; token?: string; projectId?: string } = {}) {
  return seeded.testApp.app.server.inject({
    method: options.method ?? 'GET',
    url: `/v1/connect/${options.projectId ?? seeded.client.projectId}/proxy/${encodeURIComponent(b64(target))}?external_user_id=user-1&account_id=${accountId}`,
    headers: { authorization: `Bearer ${options.token ?? seeded.client.accessToken}`, ...(options.body === undefined ? {} : { 'content-type': 'text/plain' }) },
    ...(options.body === undefined ? {} : { payload: options.body }),
  });
}

t.test('rate limit per project: 429 too_many_requests with the exact Retry-After, other projects unaffected', async (t) => {
  const clock = { ms: Date.now() };
  const { seeded, account } = await setup(t, clock);
  const id = await account('limits-api');
  for (let i = 1; i <= 3; i++) t.equal((await call(seeded, id, '/ok')).statusCode, 200, `call ${i} of 3`);
  const limited = await call(seeded, id, '/ok');
  t.equal(limited.statusCode, 429);
  t.equal(limited.headers['retry-after'], '60');
  t.equal(limited.json().error.code, 'too_many_requests');
  clock.ms += 20_000;
  t.equal((await call(seeded, id, '/ok')).headers['retry-after'], '40', 'Retry-After counts down with the clock');
  const other = await createProjectClient(seeded.testApp);
  const otherSeeded: Seeded = { ...seeded, client: other };
  const otherId = await account('limits-api', otherSeeded);
  t.equal((await call(otherSeeded, otherId, '/ok')).statusCode, 200, 'another project has its own budget');
  clock.ms += 40_000;
  t.equal((await call(seeded, id, '/ok')).statusCode, 200, 'a new window, a new budget');
});

t.test('deadlines, caps and an unreachable upstream are the catalogue errors', async (t) => {
  const clock = { ms: Date.now() };
  const { seeded, upstream, account } = await setup(t, clock);
  const id = await account('limits-api');
  // Each call in a window of its own: the rate limit (3 per window) is not what this test is about.
  const nextWindow = () => (clock.ms += 61_000);
  nextWindow();
  const hang = await call(seeded, id, '/hang');
  t.equal(hang.statusCode, 504);
  t.same(hang.json().error.details, { reason: 'first_byte' });
  t.equal(hang.json().error.code, 'upstream_timeout');

  nextWindow();
  const big = await call(seeded, id, '/big');
  t.equal(big.statusCode, 502, 'a declared length over the cap is refused before the answer starts');
  t.equal(big.json().error.code, 'upstream_response_too_large');

  nextWindow();
  const base = await seeded.testApp.listen();
  const chunked = await fetch(
    `${base}/v1/connect/${seeded.client.projectId}/proxy/${encodeURIComponent(b64('/chunked-big'))}?external_user_id=user-1&account_id=${id}`,
    {
      headers: { authorization: `Bearer ${seeded.client.accessToken}` },
    },
  );
  t.equal(chunked.status, 200, 'an undeclared length starts streaming…');
  await t.rejects(chunked.text(), 'and is cut off past the cap');

  nextWindow();
  const burst = await call(seeded, id, '/chunked-burst');
  t.equal(burst.statusCode, 502, 'past the cap before the answer started: the catalogue error, never a 500');
  t.equal(burst.json().error.code, 'upstream_response_too_large');

  const before = upstream.received.length;
  nextWindow();
  const tooLarge = await call(seeded, id, '/ok', { method: 'POST', body: 'z'.repeat(1500) });
  t.equal(tooLarge.statusCode, 413);
  t.equal(tooLarge.json().error.code, 'payload_too_large');
  t.equal(upstream.received.length, before, 'nothing was sent upstream');
  nextWindow();
  nextWindow();
  const chunkedUpload = await fetch(
    `${base}/v1/connect/${seeded.client.projectId}/proxy/${encodeURIComponent(b64('/ok'))}?external_user_id=user-1&account_id=${id}`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${seeded.client.accessToken}`, 'content-type': 'application/octet-stream' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 3; i++) controller.enqueue(new Uint8Array(500));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit,
  );
  t.equal(chunkedUpload.status, 413, 'a chunked body (no Content-Length) that outgrows the cap is a 413 too');
  const fits = await call(seeded, id, '/ok', { method: 'POST', body: 'z'.repeat(900) });
  t.equal(fits.statusCode, 200, 'a body under the cap (streamed: over the replay size) goes through');

  nextWindow();
  const closed = await call(seeded, await account('limits-closed'), '/x');
  t.equal(closed.statusCode, 502);
  t.same(closed.json().error, { ...closed.json().error, code: 'upstream_unreachable', details: { reason: 'ECONNREFUSED' } });
});
