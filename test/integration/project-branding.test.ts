// Who is asking: a project's branding through @pipedream/sdk's projects.retrieve / update /
// updateLogo (the client's own project only), the admin API, tokens/validate's
// project_app_name / project_support_email, and the logo latchkey serves.
import { PipedreamClient, PipedreamError } from '@pipedream/sdk';
import t from 'tap';
import { TEST_ADMIN_TOKEN, buildTestApp, createProjectClient } from '../fixtures/app.ts';

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

async function sdkStatus(call: () => Promise<unknown>): Promise<{ status: number | undefined; code: string | undefined; message: string | undefined }> {
  try {
    await call();
  } catch (err) {
    if (err instanceof PipedreamError) {
      const body = err.body as { error?: { code?: string; message?: string } };
      return { status: err.statusCode, code: body.error?.code, message: body.error?.message };
    }
    throw err;
  }
  throw new Error('the call succeeded');
}

t.test('projects.retrieve / update / updateLogo through the SDK, and tokens/validate shows who is asking', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const other = await createProjectClient(testApp);
  const baseUrl = await testApp.listen();
  const pd = new PipedreamClient({
    baseUrl,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    projectId: client.projectId,
    projectEnvironment: 'development',
  });

  const before = await pd.projects.retrieve(client.projectId);
  t.equal(before.id, client.projectId);
  t.equal(before.appName, undefined, 'no app name yet (null)');

  const updated = await pd.projects.update(client.projectId, { appName: '  Acme  ', supportEmail: 'help@acme.example', connectRequireKeyAuthTest: true });
  t.equal(updated.appName, 'Acme', 'trimmed');
  t.equal(updated.supportEmail, 'help@acme.example');
  t.equal(updated.name, before.name, 'the name is kept');

  const auth = { authorization: `Bearer ${client.accessToken}` };
  const links = await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/connect/projects/${client.projectId}`,
    headers: auth,
    payload: { privacy_url: 'https://acme.example/privacy', terms_url: 'https://acme.example/terms' },
  });
  t.equal(links.statusCode, 200);
  t.same(links.json(), {
    id: client.projectId,
    name: before.name,
    app_name: 'Acme',
    support_email: 'help@acme.example',
    privacy_url: 'https://acme.example/privacy',
    terms_url: 'https://acme.example/terms',
    logo_url: null,
  });

  await pd.projects.updateLogo(client.projectId, { logo: `data:image/png;base64,${PNG.toString('base64')}` });
  const withLogo = (await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/projects/${client.projectId}`, headers: auth })).json();
  t.equal(withLogo.logo_url, `/connect/projects/${client.projectId}/logo`);
  const logo = await fetch(`${baseUrl}${withLogo.logo_url}`);
  t.equal(logo.status, 200, 'the pages load it without credentials');
  t.equal(logo.headers.get('content-type'), 'image/png');
  t.equal(logo.headers.get('x-content-type-options'), 'nosniff');
  t.equal(logo.headers.get('content-security-policy'), "default-src 'none'; sandbox");
  t.same(Buffer.from(await logo.arrayBuffer()), PNG);
  t.equal((await fetch(`${baseUrl}/connect/projects/${other.projectId}/logo`)).status, 404, 'no logo, no image');

  const { token } = await pd.tokens.create({ externalUserId: 'user-1' });
  const validation = await pd.tokens.validate(token, {});
  t.hasStrict(validation, { success: true });
  const raw = (await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/tokens/${token}/validate` })).json();
  t.equal(raw.project_app_name, 'Acme');
  t.equal(raw.project_support_email, 'help@acme.example');

  // Clearing: empty or null.
  const cleared = await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/connect/projects/${client.projectId}`,
    headers: auth,
    payload: { support_email: '', terms_url: null },
  });
  t.hasStrict(cleared.json(), { app_name: 'Acme', support_email: null, terms_url: null, privacy_url: 'https://acme.example/privacy' });

  // Only the client's own project; list, create and delete stay admin-only.
  const foreign = await sdkStatus(() => pd.projects.retrieve(other.projectId));
  t.same(foreign, { status: 404, code: 'not_found', message: 'project not found' });
  t.same((await sdkStatus(() => pd.projects.update(other.projectId, { appName: 'Evil' }))).status, 404);
  const listed = await sdkStatus(() => pd.projects.list());
  t.same(listed, { status: 403, code: 'forbidden', message: 'listing, creating and deleting projects is admin-only: use /v1/admin/projects' });
  t.equal((await sdkStatus(() => pd.projects.create({ name: 'another' }))).status, 403);
  t.equal((await sdkStatus(() => pd.projects.delete(client.projectId))).status, 403);
});

t.test('bad branding values are refused with the parameter named, and nothing changes', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const auth = { authorization: `Bearer ${client.accessToken}` };
  const patch = (payload: Record<string, unknown>) =>
    testApp.app.server.inject({ method: 'PATCH', url: `/v1/connect/projects/${client.projectId}`, headers: auth, payload });
  const logo = (value: string) =>
    testApp.app.server.inject({ method: 'POST', url: `/v1/connect/projects/${client.projectId}/logo`, headers: auth, payload: { logo: value } });
  const cases: [string, Promise<{ statusCode: number; json(): { error: { code: string; message: string } } }>, string][] = [
    ['an email without @', patch({ support_email: 'help.acme.example' }), 'support_email must be an email address'],
    ['an http privacy link', patch({ privacy_url: 'http://acme.example/privacy' }), 'privacy_url must be an absolute https URL'],
    ['a javascript: link', patch({ terms_url: 'javascript:alert(1)' }), 'terms_url must be an absolute https URL'],
    ['a control character in the app name', patch({ app_name: 'Acme\u0007' }), 'app_name must be at most 100 printable characters'],
    ['an empty project name', patch({ name: '   ' }), 'name must not be empty'],
    [
      'an SVG logo',
      logo(`data:image/svg+xml;base64,${Buffer.from('<svg onload="alert(1)"/>').toString('base64')}`),
      'logo must be a data URL of a PNG, JPEG, GIF or WebP image (data:image/png;base64,…)',
    ],
    [
      'a logo that is not what it says',
      logo(`data:image/png;base64,${Buffer.from('GIF89a....').toString('base64')}`),
      'logo bytes are not the image type the data URL names',
    ],
    ['a logo over 256 kB', logo(`data:image/png;base64,${Buffer.concat([PNG, Buffer.alloc(256 * 1024)]).toString('base64')}`), 'logo must be at most 256 kB'],
  ];
  for (const [name, response, message] of cases) {
    const res = await response;
    t.equal(res.statusCode, 400, name);
    t.equal(res.json().error.code, 'validation_failed', name);
    t.equal(res.json().error.message, message, name);
  }
  const unchanged = (await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/projects/${client.projectId}`, headers: auth })).json();
  t.hasStrict(unchanged, { app_name: null, support_email: null, privacy_url: null, terms_url: null, logo_url: null });
  const readOnly = await createProjectClient(testApp, ['connect:project:read']);
  const denied = await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/connect/projects/${readOnly.projectId}`,
    headers: { authorization: `Bearer ${readOnly.accessToken}` },
    payload: { app_name: 'x' },
  });
  t.equal(denied.statusCode, 403, 'writing needs connect:project:write');
});

t.test('operators set any project’s branding through the admin API', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
  const res = await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/admin/projects/${client.projectId}`,
    headers: admin,
    payload: { app_name: 'Globex', support_email: 'it@globex.example' },
  });
  t.equal(res.statusCode, 200);
  t.hasStrict(res.json(), { id: client.projectId, app_name: 'Globex', support_email: 'it@globex.example' });
  const logo = await testApp.app.server.inject({
    method: 'POST',
    url: `/v1/admin/projects/${client.projectId}/logo`,
    headers: admin,
    payload: { logo: `data:image/png;base64,${PNG.toString('base64')}` },
  });
  t.equal(logo.statusCode, 204);
  const read = await testApp.app.server.inject({ method: 'GET', url: `/v1/admin/projects/${client.projectId}`, headers: admin });
  t.equal(read.json().logo_url, `/connect/projects/${client.projectId}/logo`);
  const unknown = await testApp.app.server.inject({ method: 'GET', url: '/v1/admin/projects/proj_unknown000', headers: admin });
  t.equal(unknown.statusCode, 404);
  const asClient = await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/admin/projects/${client.projectId}`,
    headers: { authorization: `Bearer ${client.accessToken}` },
    payload: { app_name: 'x' },
  });
  t.equal(asClient.statusCode, 403, 'a client is not an operator');
});

t.test('the hosted pages say who is asking: app name, logo, support contact, privacy link', async (t) => {
  const testApp = await buildTestApp(t);
  const client = await createProjectClient(testApp);
  const baseUrl = await testApp.listen();
  const pd = new PipedreamClient({
    baseUrl,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    projectId: client.projectId,
    projectEnvironment: 'development',
  });
  const page = async () => {
    const { token } = await pd.tokens.create({ externalUserId: 'user-1' });
    const res = await fetch(`${baseUrl}/connect?token=${token}&app=openai`);
    t.equal(res.status, 200);
    return { html: await res.text(), csp: res.headers.get('content-security-policy') ?? '' };
  };

  const plain = await page();
  t.match(plain.html, '<p>latchkey connects your OpenAI account</p>', 'a project without branding: neutral text');
  t.notMatch(plain.html, '<footer', 'and no footer');

  await pd.projects.update(client.projectId, { appName: 'Acme <Corp>', supportEmail: 'help@acme.example' });
  await testApp.app.server.inject({
    method: 'PATCH',
    url: `/v1/connect/projects/${client.projectId}`,
    headers: { authorization: `Bearer ${client.accessToken}` },
    payload: { privacy_url: 'https://acme.example/privacy' },
  });
  await pd.projects.updateLogo(client.projectId, { logo: `data:image/png;base64,${PNG.toString('base64')}` });
  const branded = await page();
  t.match(branded.html, '<p><strong>Acme &lt;Corp&gt;</strong> uses latchkey to connect your OpenAI account</p>', 'the app name, escaped');
  t.match(branded.html, `<img src="/connect/projects/${client.projectId}/logo" alt="Acme &lt;Corp&gt;">`);
  t.match(branded.html, '<a href="mailto:help@acme.example">help@acme.example</a>');
  t.match(branded.html, '<a href="https://acme.example/privacy" rel="noopener noreferrer" target="_blank">Acme &lt;Corp&gt; privacy policy</a>');
  // Both logos (the app's mark and the project's) are served by latchkey: images from its own origin only.
  t.match(branded.csp, /(^|; )img-src 'self'(;|$)/, 'the page may load the logo from latchkey, and no third-party image');
  t.match(plain.csp, /(^|; )img-src 'self'(;|$)/);
});
