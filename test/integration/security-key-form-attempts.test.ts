// Security catalogue 62, unlimited key-form attempts (issue 10, smaller holes): one connect token
// allowed any number of key-form submissions, each an outbound test request with whatever the
// token's holder typed and a CONNECTION_ERROR row. Now a token allows KEY_FORM_MAX_ATTEMPTS (5)
// attempts; after the last failed one it is burned: a clear page, no further request goes out.
import t from 'tap';
import { KEY_FORM_MAX_ATTEMPTS } from '../../src/connect/key-form.service.ts';
import { CookieJar, GOOD_KEY, connectProject, postForm, startConnectServices, type ConnectEnv } from '../fixtures/connect-env.ts';

const services = await startConnectServices(t);

async function accountCount(env: ConnectEnv): Promise<number> {
  return (await env.testApp.database.handle.db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length;
}

async function errorEvents(env: ConnectEnv): Promise<number> {
  const rows = await env.testApp.database.handle.db.selectFrom('webhook_outbox').select('payload').where('project_id', '=', env.client.projectId).execute();
  return rows.filter((row) => (row.payload as { event?: string }).event === 'CONNECTION_ERROR').length;
}

t.test('62. unlimited key-form attempts: five wrong keys, then the token is burned and nothing more goes out', async (t) => {
  t.equal(KEY_FORM_MAX_ATTEMPTS, 5);
  const env = await connectProject(services);
  const token = await env.mint();
  const jar = new CookieJar();
  const submit = (key: string) => postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: key }, jar);

  const malformed = await submit('not-a-key');
  t.equal(malformed.status, 400, 'a value that fails its pattern sends nothing and is no attempt');
  for (let attempt = 1; attempt < KEY_FORM_MAX_ATTEMPTS; attempt++) {
    const wrong = await submit(`sk_wrongkey${attempt}0`);
    t.equal(wrong.status, 400, `attempt ${attempt}: the form again`);
    t.match(await wrong.text(), 'Test request failed.');
  }
  const last = await submit('sk_wrongkey50');
  t.equal(last.status, 429, 'the last failed attempt burns the token');
  const lastHtml = await last.text();
  t.match(lastHtml, '<title>Too many attempts</title>');
  t.notMatch(lastHtml, '<form', 'no form to try again');
  t.match(lastHtml, '"error":"attempts_exhausted"', 'the embedding page is told why');
  t.equal(env.keyApi.requests.length, KEY_FORM_MAX_ATTEMPTS, 'one test request per attempt');

  const right = await submit(GOOD_KEY);
  t.equal(right.status, 429, 'even the right key: the token is gone');
  t.match(await right.text(), '<title>Too many attempts</title>');
  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=keys-test`);
  t.equal(page.status, 429, 'the Connect Link says so too');
  t.equal(env.keyApi.requests.length, KEY_FORM_MAX_ATTEMPTS, 'no request after the token was burned');
  t.equal(await accountCount(env), 0);
  t.equal(await errorEvents(env), KEY_FORM_MAX_ATTEMPTS, 'one CONNECTION_ERROR per attempt');
  const row = await env.testApp.database.handle.db
    .selectFrom('connect_tokens')
    .select(['used_at', 'burned_at', 'key_form_attempts'])
    .where('project_id', '=', env.client.projectId)
    .executeTakeFirstOrThrow();
  t.equal(row.key_form_attempts, KEY_FORM_MAX_ATTEMPTS);
  t.not(row.used_at, null);
  t.not(row.burned_at, null);
  const validate = await fetch(`${env.publicUrl}/v1/connect/tokens/${token}/validate`);
  t.equal(((await validate.json()) as { success: boolean }).success, false, 'the validate endpoint calls it used');
});

t.test('62. unlimited key-form attempts: ten posts at once still send at most five test requests', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const jar = new CookieJar();
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: `sk_parallel${i}0` }, jar)),
  );
  t.equal(env.keyApi.requests.length, KEY_FORM_MAX_ATTEMPTS, 'the attempts are claimed atomically');
  t.equal(results.filter((r) => r.status === 429).length, 10 - KEY_FORM_MAX_ATTEMPTS + 1, 'the posts beyond the fourth end on the burned page');
  t.equal(await accountCount(env), 0);
});

t.test('62. a right key within the attempts connects as before', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const jar = new CookieJar();
  for (const key of ['sk_wrongkey10', 'sk_wrongkey20'])
    t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: key }, jar)).status, 400);
  t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY }, jar)).status, 303);
  t.equal(await accountCount(env), 1);
});
