// Choice fields and renamed fields through the real Connect pages and API: a region is a select
// whose values alone are accepted; a key field renamed to Pipedream's name still accepts the old
// input name, and an account stored under the old name reads under the new one.
import t from 'tap';
import { locationOf, openAccountSecrets, sealCredentials } from '../../src/accounts/account-secrets.ts';
import { GOOD_KEY, postForm, startConnectEnv } from '../fixtures/connect-env.ts';

t.test('a region choice renders as a select, and only its values are accepted', async (t) => {
  const env = await startConnectEnv(t);
  const token = await env.mint();
  const page = await fetch(`${env.publicUrl}/connect?token=${token}&app=keys-regional`);
  t.equal(page.status, 200);
  const html = await page.text();
  t.match(
    html,
    '<label for="f_region">Region</label>\n<select id="f_region" name="f_region" required><option value="eu">Europe</option><option value="us" selected>United States</option></select>',
  );
  t.notMatch(html, /<input id="f_region"/);

  const outside = await postForm(env, '/connect/keys', { token, app: 'keys-regional', f_region: 'evil.example', f_api_key: GOOD_KEY });
  t.equal(outside.status, 400);
  t.match(await outside.text(), 'Region is not in the expected format.');
  t.equal(env.keyApi.requests.length, 0, 'a value outside the choices never reaches a template');

  const saved = await postForm(env, '/connect/keys', { token, app: 'keys-regional', f_region: 'eu', f_api_key: GOOD_KEY });
  t.equal(saved.status, 303);
  t.equal(env.keyApi.requests.length, 1);
  t.equal(env.keyApi.requests[0]!.path, '/eu/me', 'the choice filled the URL');
  t.equal(env.keyApi.requests[0]!.headers.authorization, `Basic ${Buffer.from(`${GOOD_KEY}:`).toString('base64')}`, 'api.auth: the key as a basic user name');
  const db = env.testApp.database.handle.db;
  const account = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.equal(account.name, 'keys@eu.example.com');
  t.same((await openAccountSecrets(env.testApp.app.vault, account)).values, { region: 'eu', api_key: GOOD_KEY });
});

t.test('no region posted: the default is used', async (t) => {
  const env = await startConnectEnv(t);
  const token = await env.mint();
  const saved = await postForm(env, '/connect/keys', { token, app: 'keys-regional', f_api_key: GOOD_KEY });
  t.equal(saved.status, 303);
  t.equal(env.keyApi.requests[0]!.path, '/us/me');
});

t.test('a renamed field: the old input name is accepted, an old stored account reads under the new name', async (t) => {
  const env = await startConnectEnv(t);
  const token = await env.mint();
  const saved = await postForm(env, '/connect/keys', { token, app: 'keys-regional', f_region: 'eu', f_secret_key: GOOD_KEY });
  t.equal(saved.status, 303, 'f_secret_key (the name before the rename) is the api_key field');
  const db = env.testApp.database.handle.db;
  // This test's own project: the process's shared database also holds the other tests' accounts.
  const account = await db.selectFrom('accounts').selectAll().where('project_id', '=', env.client.projectId).executeTakeFirstOrThrow();
  t.same((await openAccountSecrets(env.testApp.app.vault, account)).values, { region: 'eu', api_key: GOOD_KEY }, 'stored under the new name');

  // An account stored before the rename (and before region existed): its sealed values use the old name.
  const sealed = await sealCredentials(env.testApp.app.vault, locationOf(account), { secret_key: GOOD_KEY });
  await db.updateTable('accounts').set({ credentials_enc: sealed }).where('id', '=', account.id).execute();
  const fetched = await env.pd.accounts.retrieve(account.id, { includeCredentials: true });
  t.same(fetched.credentials, { api_key: GOOD_KEY, region: 'us' }, 'the old name reads as api_key; the missing region as its default');
});
