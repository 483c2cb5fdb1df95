// Bad input on every route: the route table is read from the built app (printRoutes), so
// routes added later are covered without touching this file. Malformed JSON, wrong content
// types, a 2 MB body, unknown and foreign project ids, a wrong x-pd-environment, garbage
// bearers (random, bad checksum, expired, revoked), SQL-injection-looking strings, NUL bytes,
// prototype pollution and type confusion: always a 4xx (or a success where the input is
// harmless), never a 500 and never a stack trace; on /v1 the catalogue's error body
// {error:{code,message,request_id}} (RFC 6749's body on /v1/oauth/token), without echoing the
// value sent. HTML pages (/connect…) and /docs are only checked for "no 500, no stack trace".
// Catalogue §5 items 1, 8, 26–32.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { issueAccessToken } from '../src/auth/access-tokens.ts';
import { ERROR_CATALOGUE } from '../src/errors.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from './fixtures/app.ts';

interface Route {
  method: HTTPMethods;
  /** Fastify's path, `:name` for parameters. */
  path: string;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** A marker inside every hostile string: an error message must never echo it back. */
const MARKER = 'zq7marker';
const HOSTILE_STRINGS = [
  `' OR 1=1--${MARKER}`,
  `'; DROP TABLE projects;--${MARKER}`,
  `" OR ""="${MARKER}`,
  `1); select pg_sleep(10);--${MARKER}`,
  `${MARKER}\u0000nul`,
  `../../etc/passwd${MARKER}`,
  `${MARKER}\u202egnp.exe`,
  `${MARKER}${'x'.repeat(10_000)}`,
  `${MARKER}%00%27`,
  `{{7*7}}\${7*7}<script>${MARKER}</script>`,
];
const COMMON_FIELDS = [
  'name',
  'external_user_id',
  'app',
  'app_id',
  'app_slug',
  'oauth_app_id',
  'client_id',
  'client_secret',
  'scope',
  'scopes',
  'url',
  'webhook_uri',
  'success_redirect_uri',
  'error_redirect_uri',
  'allowed_origins',
  'expires_in',
  'account_id',
  'token',
  'q',
  'limit',
  'after',
  'before',
  'include_credentials',
  'grant_type',
  'cfmap_json',
  'connect_token',
];

/** Parses `printRoutes({commonPrefix:false})`: a tree, 4 columns per level, methods in parentheses. */
function routeTable(server: FastifyInstance): Route[] {
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + match[2]!;
    stack.push(path);
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method === '') continue;
      const candidates = [path, path.replace(/\*$/, '/*')];
      const found = candidates.find((url) => server.hasRoute({ method: method as HTTPMethods, url }));
      routes.push({ method: method as HTTPMethods, path: found ?? path });
    }
  }
  return routes;
}

/** Path parameter patterns from the OpenAPI document, to fill in well-formed values. */
function parameterPatterns(server: FastifyInstance): Map<string, string> {
  const patterns = new Map<string, string>();
  const doc = server.swagger() as { paths?: Record<string, Record<string, { parameters?: { in: string; name: string; schema?: { pattern?: string } }[] }>> };
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'path' && parameter.schema?.pattern !== undefined) {
          patterns.set(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')} ${parameter.name}`, parameter.schema.pattern);
        }
      }
    }
  }
  return patterns;
}

/** A value matching a simple pattern such as ^apn_[A-Za-z0-9]{1,64}$ or ^cres_[A-Za-z0-9]{24}$. */
function wellFormed(pattern: string | undefined): string {
  if (pattern === undefined) return 'none0';
  const regex = new RegExp(pattern, 'u');
  const prefix = /^\^(?:\(\?:[^)]*\)\?)?([a-z]+_)?/.exec(pattern)?.[1] ?? '';
  for (const length of [5, 1, 2, 8, 16, 20, 24, 32, 36, 40, 64]) {
    for (const filler of ['a', '0', 'A']) {
      const candidate = prefix + filler.repeat(length);
      if (regex.test(candidate)) return candidate;
    }
  }
  return 'none0';
}

function isApi(route: Route): boolean {
  return route.path.startsWith('/v1/');
}

function isTokenEndpoint(route: Route): boolean {
  return route.path === '/v1/oauth/token';
}

/** What is wrong with a response, or undefined. */
function problemWith(route: Route, res: LightMyRequestResponse, expect?: (status: number) => boolean): string | undefined {
  const status = res.statusCode;
  if (status >= 500) return `status ${status}: ${res.body.slice(0, 300)}`;
  if (/\bat .+\.(?:ts|js|mjs|cjs):\d+/.test(res.body) || res.body.includes('node_modules')) return `a stack trace in the body: ${res.body.slice(0, 300)}`;
  if (expect !== undefined && !expect(status)) return `unexpected status ${status}: ${res.body.slice(0, 300)}`;
  if (status < 400 || !isApi(route)) return undefined;
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) return `a ${status} with content-type ${type}`;
  let body: unknown;
  try {
    body = res.json();
  } catch {
    return `a ${status} whose body is not JSON`;
  }
  if (res.body.includes(MARKER)) return `the error body echoes the value sent: ${res.body.slice(0, 300)}`;
  if (isTokenEndpoint(route)) {
    const oauth = body as { error?: unknown; error_description?: unknown };
    if (typeof oauth.error !== 'string' || typeof oauth.error_description !== 'string') return `not an RFC 6749 error body: ${res.body}`;
    return undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown; request_id?: unknown } }).error;
  if (error === undefined || typeof error !== 'object') return `no error object: ${res.body.slice(0, 300)}`;
  if (typeof error.code !== 'string' || !(error.code in ERROR_CATALOGUE)) return `error.code ${String(error.code)} is not in the catalogue`;
  if (ERROR_CATALOGUE[error.code as keyof typeof ERROR_CATALOGUE].status !== status) return `error.code ${error.code} does not match status ${status}`;
  if (typeof error.message !== 'string' || error.message === '') return 'error.message missing';
  if (typeof error.request_id !== 'string' || error.request_id !== res.headers['x-request-id']) return 'error.request_id missing or not the x-request-id';
  return undefined;
}

const is4xx = (status: number): boolean => status >= 400 && status < 500;

t.test('bad input on every route: 4xx with the error body, never a 500 or a stack trace', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const own = await createProjectClient(testApp);
  const foreign = await createProjectClient(testApp);
  await server.ready();
  const routes = routeTable(server).filter((route) => route.method !== 'HEAD' && route.method !== 'OPTIONS' && !route.path.startsWith('/docs'));
  const patterns = parameterPatterns(server);

  // The parser must see the routes we know of, and every route it lists must exist.
  for (const known of ['POST /v1/oauth/token', 'GET /v1/admin/projects', 'DELETE /v1/admin/projects/:project_id/clients/:client_id']) {
    t.ok(
      routes.some((route) => `${route.method} ${route.path}` === known),
      `the route table has ${known}`,
    );
  }
  const unknownRoutes = routes.filter((route) => !server.hasRoute({ method: route.method, url: route.path }));
  t.same(unknownRoutes, [], 'every parsed route exists');
  t.comment(`${routes.length} routes`);

  // Bearers: valid ones, and the garbage the catalogue lists.
  const expired = await issueAccessToken(db, { clientId: own.clientId, projectId: own.projectId, scopes: ['*'] }, new Date(Date.now() - 2 * 3600_000));
  const revoked = await createProjectClient(testApp);
  const revoke = await server.inject({
    method: 'DELETE',
    url: `/v1/admin/projects/${revoked.projectId}/clients/${revoked.clientId}`,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
  });
  t.equal(revoke.statusCode, 204);
  const badChecksum = `${own.accessToken.slice(0, -2)}${own.accessToken.endsWith('00') ? '11' : '00'}`;
  const garbageBearers: Record<string, string | undefined> = {
    'no authorization header': undefined,
    'a random string': `Bearer ${randomBytes(24).toString('base64url')}`,
    'an lka_ token with a bad checksum': `Bearer ${badChecksum}`,
    'an expired token': `Bearer ${expired.token}`,
    "a revoked client's token": `Bearer ${revoked.accessToken}`,
    'the bare word Bearer': 'Bearer',
    'a Basic header': `Basic ${Buffer.from('user:pass').toString('base64')}`,
    'an injection string': `Bearer ' OR 1=1--`,
    'a 10 kB bearer': `Bearer lka_${'a'.repeat(10_000)}`,
    'the admin token with a suffix': `Bearer ${TEST_ADMIN_TOKEN}x`,
  };

  const projectsBefore = (await db.selectFrom('projects').select('id').execute()).length;

  for (const route of routes) {
    await t.test(`${route.method} ${route.path}`, async (t) => {
      const validBearer = route.path.startsWith('/v1/admin') ? `Bearer ${TEST_ADMIN_TOKEN}` : `Bearer ${own.accessToken}`;
      const paramNames = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      const url = (overrides: Record<string, string> = {}, query = ''): string => {
        let path = route.path.replace(/\/\*$/, '/anything');
        for (const name of paramNames) {
          const value = overrides[name] ?? (name === 'project_id' ? own.projectId : wellFormed(patterns.get(`${route.method} ${route.path} ${name}`)));
          path = path.replace(`:${name}`, encodeURIComponent(value));
        }
        return path + query;
      };
      const send = (options: Partial<InjectOptions> & { authorization?: string | undefined }): Promise<LightMyRequestResponse> => {
        const { authorization, headers, ...rest } = options;
        const allHeaders: Record<string, string> = { ...(headers as Record<string, string> | undefined) };
        if (authorization !== undefined) allHeaders['authorization'] = authorization;
        return server.inject({ method: route.method, url: url(), ...rest, headers: allHeaders });
      };
      const check = (label: string, res: LightMyRequestResponse, expect?: (status: number) => boolean): void => {
        const problem = problemWith(route, res, expect);
        t.equal(problem, undefined, label);
      };
      const hasBody = BODY_METHODS.has(route.method);
      const json = { 'content-type': 'application/json' };

      // Bodies.
      if (hasBody) {
        check('malformed JSON', await send({ authorization: validBearer, headers: json, payload: '{"name":' }), is4xx);
        check('an empty JSON body', await send({ authorization: validBearer, headers: json, payload: '' }), (s) => is4xx(s) || s < 300);
        check('a JSON array body', await send({ authorization: validBearer, headers: json, payload: '[1,2,3]' }), (s) => is4xx(s) || s < 300);
        check('a JSON string body', await send({ authorization: validBearer, headers: json, payload: '"x"' }), (s) => is4xx(s) || s < 300);
        check(
          'content-type application/xml',
          await send({ authorization: validBearer, headers: { 'content-type': 'application/xml' }, payload: '<a/>' }),
          is4xx,
        );
        check(
          'content-type text/plain',
          await send({ authorization: validBearer, headers: { 'content-type': 'text/plain' }, payload: 'hello' }),
          (s) => is4xx(s) || s < 300,
        );
        check(
          'content-type multipart/form-data',
          await send({ authorization: validBearer, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' }),
          is4xx,
        );
        check(
          'JSON in UTF-16',
          await send({ authorization: validBearer, headers: { 'content-type': 'application/json; charset=utf-16' }, payload: '{}' }),
          (s) => is4xx(s) || s < 300,
        );
        const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
        check('a 2 MB JSON body → 413', await send({ authorization: validBearer, headers: json, payload: big }), (s) => s === 413);
        check(
          'a 2 MB form body',
          await send({
            authorization: validBearer,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: `name=${'x'.repeat(2 * 1024 * 1024)}`,
          }),
          (s) => s === 413 || s === 415,
        );
        check(
          'prototype pollution (__proto__)',
          await send({ authorization: validBearer, headers: json, payload: '{"__proto__":{"polluted":true},"name":"p"}' }),
          is4xx,
        );
        check(
          'prototype pollution (constructor.prototype)',
          await send({ authorization: validBearer, headers: json, payload: '{"constructor":{"prototype":{"polluted":true}},"name":"p"}' }),
          is4xx,
        );
        check(
          'type confusion',
          await send({
            authorization: validBearer,
            headers: json,
            payload: JSON.stringify(Object.fromEntries(COMMON_FIELDS.map((field, i) => [field, [[{ a: i }], 1e308, null, true, { $gt: '' }][i % 5]]))),
          }),
          (s) => is4xx(s) || s < 300,
        );
        for (const [i, hostile] of HOSTILE_STRINGS.entries()) {
          const payload = JSON.stringify(
            Object.fromEntries(COMMON_FIELDS.map((field) => [field, field === 'scopes' || field === 'allowed_origins' ? [hostile] : hostile])),
          );
          check(`hostile strings in the body (#${i})`, await send({ authorization: validBearer, headers: json, payload }), (s) => is4xx(s) || s < 300);
        }
      } else {
        check('a 2 MB body on a bodiless method', await send({ authorization: validBearer, headers: json, payload: 'x'.repeat(2 * 1024 * 1024) }));
      }

      // Query strings.
      for (const [i, hostile] of HOSTILE_STRINGS.slice(0, 6).entries()) {
        const query = `?${COMMON_FIELDS.map((field) => `${field}=${encodeURIComponent(hostile)}`).join('&')}`;
        check(
          `hostile strings in the query (#${i})`,
          await server.inject({ method: route.method, url: url({}, query), headers: { authorization: validBearer } }),
        );
      }
      check(
        'repeated and mistyped query parameters',
        await server.inject({
          method: route.method,
          url: url({}, '?limit=abc&limit=5&include_credentials=maybe&after=-1&before[]=x&expires_in=3600abc'),
          headers: { authorization: validBearer },
        }),
      );

      // Path parameters.
      for (const name of paramNames) {
        const broken = url({ [name]: 'PLACEHOLDER' }).replace('PLACEHOLDER', `%E0%A4%A${MARKER}`);
        check(`bad percent-encoding in :${name}`, await send({ authorization: validBearer, url: broken }), is4xx);
        for (const [i, hostile] of HOSTILE_STRINGS.entries()) {
          check(`hostile :${name} (#${i})`, await send({ authorization: validBearer, url: url({ [name]: hostile }) }), (s) => is4xx(s) || s < 300);
        }
      }
      if (paramNames.includes('project_id')) {
        const unknown = await send({ authorization: validBearer, url: url({ project_id: 'proj_unknown0000000000' }) });
        check('an unknown project id', unknown, (s) => s === 404 || s === 400);
        if (!route.path.startsWith('/v1/admin')) {
          const foreignProject = await send({ authorization: validBearer, url: url({ project_id: foreign.projectId }) });
          check("another project's id → the same answer as an unknown one", foreignProject, (s) => s === unknown.statusCode);
          if (foreignProject.statusCode === 404) t.equal(foreignProject.json().error.message, unknown.json().error.message, 'no difference to probe');
        }
      }

      // The environment header.
      const clientProjectRoute = paramNames.includes('project_id') && route.path.startsWith('/v1/connect/');
      for (const environment of ['staging', `' OR 1=1--${MARKER}`, 'Production', '']) {
        check(
          `x-pd-environment ${JSON.stringify(environment.slice(0, 12))}`,
          await send({ authorization: validBearer, headers: { 'x-pd-environment': environment } }),
          clientProjectRoute && environment !== '' ? (s) => s === 400 : undefined,
        );
      }

      // Bearers: garbage is treated exactly like no bearer at all.
      const anonymous = await send({});
      check('no credentials', anonymous);
      for (const [label, authorization] of Object.entries(garbageBearers)) {
        check(`bearer: ${label}`, await send({ authorization }), (s) => s === anonymous.statusCode);
      }
      if (route.path.startsWith('/v1/admin') || clientProjectRoute) {
        t.ok(anonymous.statusCode === 401 || (hasBody && anonymous.statusCode === 400), `no credentials: 401 (got ${anonymous.statusCode})`);
      }
    });
  }

  // Nothing the hostile input did had an effect beyond its own rows.
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype is not polluted');
  const projectsAfter = await db.selectFrom('projects').select('id').execute();
  t.ok(projectsAfter.length >= projectsBefore, 'the projects table is intact');
  const own2 = await server.inject({
    method: 'GET',
    url: `/v1/connect/${own.projectId}/projects/info`,
    headers: { authorization: `Bearer ${own.accessToken}` },
  });
  t.equal(own2.statusCode, 200, 'the valid token still works after all of it');
  const logs = testApp.logs();
  t.notOk(logs.includes(own.accessToken), 'no bearer in the logs');
  t.notOk(logs.includes(TEST_ADMIN_TOKEN), 'no admin token in the logs');
});

t.test('the token endpoint: hostile client authentication gets an RFC 6749 4xx, never a 500', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const { clientId, clientSecret } = await createProjectClient(testApp);
  const route: Route = { method: 'POST', path: '/v1/oauth/token' };
  const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const grant = 'grant_type=client_credentials';
  const cases: [string, Partial<InjectOptions>, number, string][] = [
    ['Basic with a bad percent-encoding', { headers: { ...form, authorization: `Basic ${b64('%E0%A4%A:x')}` }, payload: grant }, 401, 'invalid_client'],
    ['Basic without a colon', { headers: { ...form, authorization: `Basic ${b64('lkc_abc')}` }, payload: grant }, 401, 'invalid_client'],
    ['Basic that is not base64', { headers: { ...form, authorization: 'Basic !!!' }, payload: grant }, 401, 'invalid_client'],
    ['Basic with a NUL in the id', { headers: { ...form, authorization: `Basic ${b64('lkc_%00:x')}` }, payload: grant }, 401, 'invalid_client'],
    ['a NUL in client_id', { payload: { grant_type: 'client_credentials', client_id: 'lkc_\u0000', client_secret: 'x' } }, 401, 'invalid_client'],
    ['SQL in client_id', { payload: { grant_type: 'client_credentials', client_id: "lkc_' OR 1=1--", client_secret: 'x' } }, 401, 'invalid_client'],
    [
      'Basic and client_secret together (§2.3)',
      {
        headers: { authorization: `Basic ${b64(`${clientId}:${clientSecret}`)}` },
        payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'y' },
      },
      400,
      'invalid_request',
    ],
    [
      'a 10 kB client_secret',
      { payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: 'x'.repeat(10_000) } },
      400,
      'invalid_request',
    ],
    [
      'a NUL in scope',
      { payload: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '\u0000' } },
      400,
      'invalid_scope',
    ],
    [
      'grant_type twice',
      { headers: form, payload: `${grant}&grant_type=password&client_id=${clientId}&client_secret=${clientSecret}` },
      400,
      'invalid_request',
    ],
    ['grant_type password', { payload: { grant_type: 'password', client_id: clientId, client_secret: clientSecret } }, 400, 'unsupported_grant_type'],
  ];
  for (const [label, options, status, error] of cases) {
    const res = await server.inject({ method: 'POST', url: '/v1/oauth/token', ...options });
    t.equal(
      problemWith(route, res, (s) => s === status),
      undefined,
      label,
    );
    t.equal(res.statusCode === status && res.json<{ error: string }>().error, error, `${label}: ${error}`);
    t.equal(res.headers['cache-control'], 'no-store', `${label}: no-store`);
  }
  const basic = await server.inject({
    method: 'POST',
    url: '/v1/oauth/token',
    headers: { ...form, authorization: `Basic ${b64(`${clientId}:${clientSecret}`)}` },
    payload: grant,
  });
  t.equal(basic.statusCode, 200, 'positive control: Basic alone works');
});
