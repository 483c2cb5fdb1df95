// Issue 10 (API hardening): authentication comes before validation. A route that checked its body
// or query schema before the bearer told an unauthenticated caller what it expects (a 400 naming
// the missing field). Every secured route now authenticates in onRequest, before the body is
// parsed: a stranger gets 401 whatever they send. The route list is read from the app's OpenAPI
// document, so a route added later is covered. Catalogue §5 items 1 and 32.
import t from 'tap';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

interface Operation {
  security?: Record<string, unknown>[];
  requestBody?: unknown;
  parameters?: { in: string; name: string }[];
}

t.test('every secured route answers 401 to a stranger before it validates anything', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  await server.ready();
  // The contrast: a caller who is authenticated does get the schema's 400.
  const own = await createProjectClient(testApp);
  const authenticated = await server.inject({
    method: 'POST',
    url: `/v1/connect/${own.projectId}/tokens`,
    headers: { authorization: `Bearer ${own.accessToken}` },
    payload: { unexpected_field: [1] },
  });
  t.equal(authenticated.statusCode, 400, 'an authenticated caller gets the validation error');
  const doc = server.swagger() as { paths: Record<string, Record<string, Operation>> };
  const answers: Record<string, number> = {};
  const expected: Record<string, number> = {};
  let withBody = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if ((operation.security ?? []).length === 0) continue;
      const url = path.replace(/\{(\w+)\}/g, (_match, name: string) => (name === 'project_id' ? 'proj_nosuchproject0000' : 'not-an-id'));
      const hasBody = operation.requestBody !== undefined;
      if (hasBody) withBody += 1;
      for (const [label, authorization] of [
        ['no bearer', undefined],
        ['a garbage bearer', 'Bearer lka_nope'],
      ] as const) {
        const res = await server.inject({
          method: method.toUpperCase() as 'GET',
          url: `${url}?limit=notanumber&unexpected=1`,
          headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
          ...(hasBody ? { payload: '{"unexpected_field":[1]}' } : {}),
        });
        const key = `${method.toUpperCase()} ${path} (${label})`;
        answers[key] = res.statusCode;
        expected[key] = 401;
        if (res.statusCode === 401) t.equal(res.json<{ error: { code: string } }>().error.code, 'unauthorized', `${key}: unauthorized`);
      }
    }
  }
  t.ok(withBody >= 8, `${withBody} secured routes take a body`);
  t.same(answers, expected, 'a 401 on every secured route, body and query unread');
});
