// Bad input on every route: the route table is read from the built app (printRoutes), so
// routes added later are covered without touching this file. Malformed JSON, wrong content
// types, a 2 MB body, unknown and foreign project ids, a wrong x-pd-environment, garbage
// bearers (random, bad checksum, expired, revoked), SQL-injection-looking strings, NUL bytes,
// prototype pollution and type confusion. Each input gets one exact status, worked out from
// what the route declares in the OpenAPI document (a body schema, query parameters, path
// parameter patterns, a security requirement) and from its answer to the same request without
// the bad part (the control): a route that declares no body ignores a body, so a hostile body
// gets the control's answer; one that validates its body answers 400. Never a 500, never a
// stack trace; on /v1 the catalogue's error body {error:{code,message,request_id}} (RFC 6749's
// body on /v1/oauth/token), without echoing the value sent. Catalogue §5 items 1, 8, 26–32.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { issueAccessToken } from '../../src/auth/access-tokens.ts';
import { ERROR_CATALOGUE } from '../../src/errors.ts';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';

interface Route {
  method: HTTPMethods;
  /** Fastify's path, `:name` for parameters. */
  path: string;
}

/** What a route declares in the OpenAPI document (nothing, for routes it leaves out). */
interface Contract {
  /** A request body schema: a body that does not fit is a 400. */
  body: boolean;
  /** Query parameters: unknown or mistyped ones are a 400. */
  query: boolean;
  /** A bearer or admin token is required. */
  secured: boolean;
  /** A project client's bearer: the route reads x-pd-environment. */
  clientBearer: boolean;
  /** The schema of each path parameter. */
  params: Map<string, ParamSchema>;
}

interface ParamSchema {
  pattern?: string;
  minLength?: number;
  maxLength?: number;
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
/**
 * NUL bytes and lone surrogates are refused at the edge (src/http/string-safety.ts) wherever they
 * are sent: a 400 on every route, before the route's own rules apply.
 */
const isUnstorable = (value: string): boolean => value.includes('\u0000') || /[\ud800-\udfff]/.test(value);
/** The router refuses longer path parameters before any route runs (app.ts, maxParamLength). */
const MAX_PARAM_LENGTH = 8192;
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

/**
 * Where a route's answer to hostile query strings is not the rule's (declared query → 400,
 * else the control's answer), and why.
 */
const HOSTILE_QUERY_ANSWERS: Record<string, 'control' | number> = {
  // Pipedream's validate takes parameters it does not know; the (unknown) token decides: 200 {success:false}.
  'GET /v1/connect/tokens/:token/validate': 'control',
  // The hosted page reads the link's token first, and a hostile token is not a valid link.
  'GET /connect': 401,
  'GET /_static/connect.html': 401,
};
/**
 * Routes that take any body unparsed and pass it on (the Connect proxy forwards JSON, forms,
 * multipart and binary as they came): whatever the body, they answer as the control does.
 */
function forwardsRawBodies(route: Route): boolean {
  return /^\/v1\/connect\/:project_id\/proxy\/:url_64$/.test(route.path);
}
/**
 * Routes whose bearer check does not compare :project_id (it is checked in the handler, after
 * the schema), so a hostile project id is the schema's 400 there, not the early 404.
 */
const PROJECT_CHECKED_IN_HANDLER = new Set(['GET /v1/connect/:project_id/secrets/:name']);
/** The same for the repeated and mistyped query parameters (no token: the page's "incomplete link"). */
const MISTYPED_QUERY_ANSWERS: Record<string, 'control' | number> = {
  'GET /v1/connect/tokens/:token/validate': 'control',
};

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

interface OpenApiOperation {
  parameters?: { in: string; name: string; schema?: ParamSchema }[];
  requestBody?: unknown;
  security?: Record<string, unknown>[];
}

/** Each route's contract, from the OpenAPI document the app serves. */
function routeContracts(server: FastifyInstance): Map<string, Contract> {
  const contracts = new Map<string, Contract>();
  const doc = server.swagger() as { paths?: Record<string, Record<string, OpenApiOperation>> };
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const parameters = operation.parameters ?? [];
      contracts.set(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`, {
        body: operation.requestBody !== undefined,
        query: parameters.some((parameter) => parameter.in === 'query'),
        secured: (operation.security ?? []).length > 0,
        clientBearer: (operation.security ?? []).some((requirement) => 'bearerAuth' in requirement),
        params: new Map(parameters.filter((parameter) => parameter.in === 'path').map((parameter) => [parameter.name, parameter.schema ?? {}])),
      });
    }
  }
  return contracts;
}

const UNDECLARED: Contract = { body: false, query: false, secured: false, clientBearer: false, params: new Map() };

/** Whether a path parameter's schema takes the value (the router's length limit first). */
function paramAccepts(schema: ParamSchema | undefined, value: string): boolean {
  if (encodeURIComponent(value).length > MAX_PARAM_LENGTH) return false;
  if (schema === undefined) return true;
  if (schema.minLength !== undefined && value.length < schema.minLength) return false;
  if (schema.maxLength !== undefined && value.length > schema.maxLength) return false;
  return schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(value);
}

/** A value matching a simple pattern such as ^apn_[A-Za-z0-9]{1,64}$ or ^cres_[A-Za-z0-9]{24}$. */
function wellFormed(schema: ParamSchema | undefined): string {
  const pattern = schema?.pattern;
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

/** What is wrong with a response's body, or undefined: a 500, a stack trace, an error body not the catalogue's. */
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

t.test('bad input on every route: the exact 4xx, with the error body, never a 500 or a stack trace', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const db = testApp.database.handle.db;
  const own = await createProjectClient(testApp);
  const foreign = await createProjectClient(testApp);
  await server.ready();
  const routes = routeTable(server).filter((route) => route.method !== 'HEAD' && route.method !== 'OPTIONS' && !route.path.startsWith('/docs'));
  const contracts = routeContracts(server);

  // The parser must see the routes we know of, and every route it lists must exist.
  for (const known of ['POST /v1/oauth/token', 'GET /v1/admin/projects', 'DELETE /v1/admin/projects/:project_id/clients/:client_id']) {
    t.ok(
      routes.some((route) => `${route.method} ${route.path}` === known),
      `the route table has ${known}`,
    );
  }
  const unknownRoutes = routes.filter((route) => !server.hasRoute({ method: route.method, url: route.path }));
  t.same(unknownRoutes, [], 'every parsed route exists');
  const undocumentedApi = routes.filter((route) => isApi(route) && !contracts.has(`${route.method} ${route.path}`));
  t.same(undocumentedApi, [], 'every /v1 route is in the OpenAPI document, so its contract is known');
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
      const key = `${route.method} ${route.path}`;
      const contract = contracts.get(key) ?? UNDECLARED;
      const validBearer = route.path.startsWith('/v1/admin') ? `Bearer ${TEST_ADMIN_TOKEN}` : `Bearer ${own.accessToken}`;
      const paramNames = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
      const url = (overrides: Record<string, string> = {}, query = ''): string => {
        let path = route.path.replace(/\/\*$/, '/anything');
        for (const name of paramNames) {
          const value = overrides[name] ?? (name === 'project_id' ? own.projectId : wellFormed(contract.params.get(name)));
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
      // Every answer, and the one it must be: compared in one assertion per route, so a failure
      // lists each input whose status is wrong.
      const statuses: Record<string, number> = {};
      const expected: Record<string, number> = {};
      const problems: Record<string, string> = {};
      const check = (label: string, res: LightMyRequestResponse, status: number): void => {
        statuses[label] = res.statusCode;
        expected[label] = status;
        const problem = problemWith(route, res);
        if (problem !== undefined) problems[label] = problem;
      };
      const hasBody = BODY_METHODS.has(route.method);
      const json = { 'content-type': 'application/json' };

      // The controls: the same request without the bad part.
      const controlResponse = await send({ authorization: validBearer });
      const control = controlResponse.statusCode;
      t.equal(problemWith(route, controlResponse), undefined, `the control answers ${control} cleanly`);
      // A route that declares no body ignores one; one that declares it validates it.
      const bodyAnswer = contract.body ? 400 : control;

      // Bodies.
      if (hasBody && forwardsRawBodies(route)) {
        for (const [label, headers, payload] of [
          ['malformed JSON', json, '{"name":'],
          ['content-type application/xml', { 'content-type': 'application/xml' }, '<a/>'],
          ['content-type multipart/form-data', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--'],
          ['a 2 MB JSON body', json, JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })],
          ['prototype pollution (__proto__)', json, '{"__proto__":{"polluted":true},"name":"p"}'],
        ] as const) {
          check(`${label} (forwarded unparsed)`, await send({ authorization: validBearer, headers, payload }), control);
        }
      } else if (hasBody) {
        const emptyObject = (await send({ authorization: validBearer, headers: json, payload: '{}' })).statusCode;
        check('malformed JSON', await send({ authorization: validBearer, headers: json, payload: '{"name":' }), 400);
        check('an empty JSON body', await send({ authorization: validBearer, headers: json, payload: '' }), 400);
        check('a JSON array body', await send({ authorization: validBearer, headers: json, payload: '[1,2,3]' }), bodyAnswer);
        check('a JSON string body', await send({ authorization: validBearer, headers: json, payload: '"x"' }), bodyAnswer);
        check('content-type application/xml', await send({ authorization: validBearer, headers: { 'content-type': 'application/xml' }, payload: '<a/>' }), 415);
        check('content-type text/plain', await send({ authorization: validBearer, headers: { 'content-type': 'text/plain' }, payload: 'hello' }), bodyAnswer);
        check(
          'content-type multipart/form-data',
          await send({ authorization: validBearer, headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' }),
          415,
        );
        // RFC 8259 §11: application/json has no charset parameter; one sent has no effect.
        check(
          'JSON labelled UTF-16',
          await send({ authorization: validBearer, headers: { 'content-type': 'application/json; charset=utf-16' }, payload: '{}' }),
          emptyObject,
        );
        const big = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) });
        check('a 2 MB JSON body', await send({ authorization: validBearer, headers: json, payload: big }), 413);
        check(
          'a 2 MB form body',
          await send({
            authorization: validBearer,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: `name=${'x'.repeat(2 * 1024 * 1024)}`,
          }),
          413,
        );
        check(
          'prototype pollution (__proto__)',
          await send({ authorization: validBearer, headers: json, payload: '{"__proto__":{"polluted":true},"name":"p"}' }),
          400,
        );
        check(
          'prototype pollution (constructor.prototype)',
          await send({ authorization: validBearer, headers: json, payload: '{"constructor":{"prototype":{"polluted":true}},"name":"p"}' }),
          400,
        );
        check(
          'type confusion',
          await send({
            authorization: validBearer,
            headers: json,
            payload: JSON.stringify(Object.fromEntries(COMMON_FIELDS.map((field, i) => [field, [[{ a: i }], 1e308, null, true, { $gt: '' }][i % 5]]))),
          }),
          bodyAnswer,
        );
        for (const [i, hostile] of HOSTILE_STRINGS.entries()) {
          const payload = JSON.stringify(
            Object.fromEntries(COMMON_FIELDS.map((field) => [field, field === 'scopes' || field === 'allowed_origins' ? [hostile] : hostile])),
          );
          check(
            `hostile strings in the body #${i}`,
            await send({ authorization: validBearer, headers: json, payload }),
            isUnstorable(hostile) ? 400 : bodyAnswer,
          );
        }
      } else {
        check('a 2 MB body on a bodiless method', await send({ authorization: validBearer, headers: json, payload: 'x'.repeat(2 * 1024 * 1024) }), control);
      }

      // Query strings.
      const answer = (exception: 'control' | number | undefined, rule: number): number => (exception === 'control' ? control : (exception ?? rule));
      const queryAnswer = contract.query ? 400 : control;
      for (const [i, hostile] of HOSTILE_STRINGS.slice(0, 6).entries()) {
        const query = `?${COMMON_FIELDS.map((field) => `${field}=${encodeURIComponent(hostile)}`).join('&')}`;
        check(
          `hostile strings in the query #${i}`,
          await server.inject({ method: route.method, url: url({}, query), headers: { authorization: validBearer } }),
          isUnstorable(hostile) ? 400 : answer(HOSTILE_QUERY_ANSWERS[key], queryAnswer),
        );
      }
      check(
        'repeated and mistyped query parameters',
        await server.inject({
          method: route.method,
          url: url({}, '?limit=abc&limit=5&include_credentials=maybe&after=-1&before[]=x&expires_in=3600abc'),
          headers: { authorization: validBearer },
        }),
        answer(MISTYPED_QUERY_ANSWERS[key], queryAnswer),
      );

      // Path parameters: a value the parameter's schema refuses is a 400, one it takes is data.
      for (const name of paramNames) {
        const broken = url({ [name]: 'PLACEHOLDER' }).replace('PLACEHOLDER', `%E0%A4%A${MARKER}`);
        check(`bad percent-encoding in :${name}`, await send({ authorization: validBearer, url: broken }), 400);
        for (const [i, hostile] of HOSTILE_STRINGS.entries()) {
          const accepted = paramAccepts(contract.params.get(name), hostile);
          // A project client's bearer is checked against :project_id before anything else: any
          // other value (one the router lets through) is the same 404 as an unknown project.
          const foreignProject =
            name === 'project_id' && contract.clientBearer && !PROJECT_CHECKED_IN_HANDLER.has(key) && encodeURIComponent(hostile).length <= MAX_PARAM_LENGTH;
          check(
            `hostile :${name} #${i}`,
            await send({ authorization: validBearer, url: url({ [name]: hostile }) }),
            foreignProject ? 404 : accepted && !isUnstorable(hostile) ? control : 400,
          );
        }
      }
      if (paramNames.includes('project_id')) {
        // A project client's bearer is checked against the path's project before anything else (a
        // 404 at once); an admin route finds the project in its handler, so a missing required
        // body is refused first.
        const unknown = await send({ authorization: validBearer, url: url({ project_id: 'proj_unknown0000000000' }) });
        check('an unknown project id', unknown, route.path.startsWith('/v1/admin') && control === 400 ? 400 : 404);
        if (!route.path.startsWith('/v1/admin')) {
          const foreignProject = await send({ authorization: validBearer, url: url({ project_id: foreign.projectId }) });
          check("another project's id (the same answer as an unknown one)", foreignProject, unknown.statusCode);
          if (foreignProject.statusCode === 404) t.equal(foreignProject.json().error.message, unknown.json().error.message, 'no difference to probe');
        }
      }

      // The environment header: the routes a project client calls read it; empty is the default.
      for (const environment of ['staging', `' OR 1=1--${MARKER}`, 'Production', '']) {
        check(
          `x-pd-environment ${JSON.stringify(environment.slice(0, 12))}`,
          await send({ authorization: validBearer, headers: { 'x-pd-environment': environment } }),
          contract.clientBearer && environment !== '' ? 400 : control,
        );
      }

      // Bearers: garbage is treated exactly like no bearer at all, which a secured route refuses
      // with a 401 before it looks at the request (a 400 would describe its schema to a stranger).
      const anonymous = await send({});
      check('no credentials', anonymous, contract.secured ? 401 : control);
      for (const [label, authorization] of Object.entries(garbageBearers)) {
        check(`bearer: ${label}`, await send({ authorization }), anonymous.statusCode);
      }

      t.same(statuses, expected, 'the exact status for each bad input');
      t.same(problems, {}, 'no 500, no stack trace; on /v1 the error body of the catalogue, without the value sent');
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
    // A NUL sent as such is refused at the edge, before client authentication.
    ['a NUL in client_id', { payload: { grant_type: 'client_credentials', client_id: 'lkc_\u0000', client_secret: 'x' } }, 400, 'invalid_request'],
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
      'invalid_request',
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
