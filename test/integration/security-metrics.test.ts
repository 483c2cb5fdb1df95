// Issue 10, smaller holes: `/metrics` was public on the service port, and the 431 (headers too
// large) and other errors Node's parser answers before Fastify sees a request had Fastify's own
// body, not the catalogue's. /metrics is now behind LATCHKEY_METRICS_TOKEN or on a listener of
// its own (LATCHKEY_METRICS_PORT); in production with neither it is not served. Every framework
// error (parser, bad JSON, 413, 415, unknown route) answers with the catalogue's JSON body.
import net from 'node:net';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { ERROR_CATALOGUE } from '../../src/errors.ts';
import { TEST_ADMIN_TOKEN, buildTestApp } from '../fixtures/app.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef0123456789';

t.test('/metrics behind a bearer: 401 without it, 200 with it', async (t) => {
  const { app } = await buildTestApp(t, { env: { LATCHKEY_METRICS_TOKEN: METRICS_TOKEN } });
  // Readiness stays public (load balancers probe it); it also opens the test database, which
  // the fixture needs before it can close it at exit.
  t.equal((await app.server.inject('/readyz')).statusCode, 200);
  const anonymous = await app.server.inject('/metrics');
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().error.code, 'unauthorized');
  t.notMatch(anonymous.body, /latchkey_http_requests_total/);
  const wrong = await app.server.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
  t.equal(wrong.statusCode, 401);
  const right = await app.server.inject({ url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  t.equal(right.statusCode, 200);
  t.match(right.body, /latchkey_http_requests_total/);
});

t.test('/metrics on a port of its own: not on the service port; the service port’s requests are counted there', async (t) => {
  const { app } = await buildTestApp(t, { env: { LATCHKEY_METRICS_PORT: '9464' } });
  t.equal((await app.server.inject('/healthz')).statusCode, 200);
  const onService = await app.server.inject('/metrics');
  t.equal(onService.statusCode, 404);
  t.equal(onService.json().error.code, 'not_found');
  t.ok(app.metricsServer !== undefined, 'a metrics listener is built');
  const scraped = await app.metricsServer!.inject('/metrics');
  t.equal(scraped.statusCode, 200);
  t.match(scraped.body, /latchkey_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
});

t.test('framework errors answer with the catalogue body: 431, a bad request line, a NUL header, bad JSON, 413, 415, 404', async (t) => {
  const testApp = await buildTestApp(t);
  const base = await testApp.listen();
  const port = Number(new URL(base).port);
  const raw = (text: string): Promise<string> =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
      let out = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      socket.on('close', () => resolve(out));
      socket.on('error', () => resolve(out));
    });
  const parse = (response: string): { status: number; body: { error: { code: string; message: string; request_id: string } }; requestId: string } => {
    const [head, body] = response.split('\r\n\r\n', 2) as [string, string];
    return {
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
      body: JSON.parse(body) as { error: { code: string; message: string; request_id: string } },
      requestId: /x-request-id: (\S+)/i.exec(head)?.[1] ?? '',
    };
  };
  const cases: [string, string, number, string][] = [
    ['headers over the limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'request_header_too_large'],
    ['a malformed request line', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
    ['a NUL in a header value', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 400, 'bad_request'],
    [
      'an unknown transfer coding',
      'POST /v1/oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n{}',
      400,
      'bad_request',
    ],
  ];
  for (const [label, request, status, code] of cases) {
    const answer = parse(await raw(request));
    t.equal(answer.status, status, `${label}: ${status}`);
    t.equal(answer.body.error.code, code, `${label}: ${code}`);
    t.equal(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status, status, `${label}: the catalogue's status`);
    t.equal(answer.body.error.request_id, answer.requestId, `${label}: the request id in the body and the header`);
  }

  const server = testApp.app.server;
  const json = { 'content-type': 'application/json' };
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const injected: [string, InjectOptions, number, string][] = [
    ['bad JSON', { method: 'POST', url: '/v1/admin/projects', headers: { ...json, ...admin }, payload: '{"a":' }, 400, 'bad_request'],
    [
      'an unsupported content type',
      { method: 'POST', url: '/v1/admin/projects', headers: { 'content-type': 'application/xml', ...admin }, payload: '<a/>' },
      415,
      'unsupported_media_type',
    ],
    [
      'a 2 MB body',
      { method: 'POST', url: '/v1/admin/projects', headers: { ...json, ...admin }, payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) },
      413,
      'payload_too_large',
    ],
    ['an unknown route', { method: 'GET', url: '/v1/nope' }, 404, 'not_found'],
    ['a wrong method', { method: 'PUT', url: '/healthz' }, 404, 'not_found'],
  ];
  for (const [label, options, status, code] of injected) {
    const res = await server.inject(options);
    t.equal(res.statusCode, status, `${label}: ${status}`);
    const body = res.json<{ error: { code: string } | string }>();
    t.equal(typeof body.error === 'string' ? body.error : body.error.code, code, `${label}: ${code}`);
  }
});
