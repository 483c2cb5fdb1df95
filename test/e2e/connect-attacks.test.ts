// Attacks on the connect flow (security-catalogue §5, items 4–7 and 11–25), against the real
// oidc-provider. Where an attack must be stopped before the provider is asked, the test counts
// the token requests the authorization server actually received. The servers are built once for
// the file; each test attacks a project of its own and counts only its own requests and rows.
import t from 'tap';
import { sql } from 'kysely';
import { openConnectSession } from '../../src/connect/connect-flow.service.ts';
import { submitKeyForm } from '../../src/connect/key-form.service.ts';
import { s256Challenge } from '../../src/oauth/pkce.ts';
import { RegistryError, registryFromDefinitions } from '../../src/registry/loader.ts';
import { browserSkipReason, openPage } from '../fixtures/browser.ts';
import { CookieJar, GOOD_KEY, callback, connectProject, postForm, startConnectServices, startOAuth, type ConnectEnv } from '../fixtures/connect-env.ts';
import { authorizeHeadless } from '../fixtures/oidc-provider.ts';
import { testAppDefinitions } from '../fixtures/test-apps/index.ts';

const services = await startConnectServices(t);

async function accountCount(env: ConnectEnv): Promise<number> {
  return (await env.testApp.database.handle.db.selectFrom('accounts').select('id').where('project_id', '=', env.client.projectId).execute()).length;
}

async function expireToken(env: ConnectEnv): Promise<void> {
  await env.testApp.database.handle.db
    .updateTable('connect_tokens')
    .set({ expires_at: new Date(Date.now() - 1000) })
    .where('project_id', '=', env.client.projectId)
    .execute();
}

t.test('4. expired connect token: refused on the page, on both form posts, and at a callback that outlived it', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const { authorizeUrl, jar } = await startOAuth(env, token);
  const back = await authorizeHeadless(authorizeUrl.toString());
  await expireToken(env);

  t.equal((await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-test`)).status, 401);
  t.equal((await postForm(env, '/connect/oauth/start', { token, app: 'oidc-test' })).status, 401);
  t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY })).status, 401);
  t.equal(env.keyApi.requests.length, 0);

  const res = await callback(back, jar);
  t.equal(res.status, 303, 'the attempt ends on the error outcome');
  const result = await (await fetch(`${env.publicUrl}${res.headers.get('location')!}`)).text();
  t.match(result, /This link has expired/);
  t.equal(env.oidc.tokenRequests().length, 0, 'the code is not spent for an expired token');
  t.equal(await accountCount(env), 0);
});

t.test('5. connect token replay: a finished token is refused everywhere; a second tab’s callback stores nothing', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const tabA = await startOAuth(env, token);
  const tabB = await startOAuth(env, token, {}, tabA.jar);
  const backA = await authorizeHeadless(tabA.authorizeUrl.toString());
  const backB = await authorizeHeadless(tabB.authorizeUrl.toString());
  t.equal((await callback(backA, tabA.jar)).status, 303);
  t.equal(await accountCount(env), 1);

  const second = await callback(backB, tabB.jar);
  t.equal(second.status, 303);
  t.match(await (await fetch(`${env.publicUrl}${second.headers.get('location')!}`)).text(), /already used/);
  t.equal(env.oidc.tokenRequests().length, 1, 'the second tab’s code is never exchanged');
  t.equal(await accountCount(env), 1, 'one token, one account');

  t.equal((await fetch(`${env.publicUrl}/connect?token=${token}&app=oidc-test`)).status, 410);
  t.equal((await postForm(env, '/connect/oauth/start', { token, app: 'oidc-test' })).status, 410);
  t.equal((await postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY })).status, 410);
});

t.test('5b. concurrent completions of one token: exactly one account', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint();
  const results = await Promise.all(
    Array.from({ length: 4 }, () => postForm(env, '/connect/keys', { token, app: 'keys-test', f_api_key: GOOD_KEY }).then((r) => r.status)),
  );
  t.equal(await accountCount(env), 1, 'the token is consumed in the same transaction as the insert');
  t.ok(
    results.every((s) => s === 303 || s === 410),
    'the others end on an outcome page or the used-link page',
  );
  const outcomes = await env.testApp.database.handle.db
    .selectFrom('connect_results')
    .select(['outcome', 'error'])
    .where('project_id', '=', env.client.projectId)
    .execute();
  t.equal(outcomes.filter((o) => o.outcome === 'success').length, 1, 'one success');
  t.comment(`statuses ${results.join(',')}; outcomes ${outcomes.map((o) => o.error ?? o.outcome).join(',')}`);
  t.ok(
    outcomes.filter((o) => o.outcome === 'error').every((o) => o.error === 'token_used'),
    'a late finisher records token_used and stores nothing',
  );

  // Deterministically: two sessions that both saw the token unused; the second to finish loses.
  const deps = {
    db: env.testApp.database.handle.db,
    vault: env.testApp.app.vault,
    registry: env.testApp.registry,
    publicUrl: env.publicUrl,
    egress: env.testApp.app.egress,
  };
  const again = await env.mint();
  const first = await openConnectSession(deps, { token: again, app: 'keys-test' });
  const second = await openConnectSession(deps, { token: again, app: 'keys-test' });
  const won = await submitKeyForm(deps, first, { f_api_key: GOOD_KEY });
  const lost = await submitKeyForm(deps, second, { f_api_key: GOOD_KEY });
  t.match(won.location, /^\/connect\/result\//);
  const lostResult = await env.testApp.database.handle.db
    .selectFrom('connect_results')
    .select(['outcome', 'error', 'account_id'])
    .where('id', '=', lost.location.split('/').pop()!)
    .executeTakeFirstOrThrow();
  t.same(lostResult, { outcome: 'error', error: 'token_used', account_id: null }, 'the loser stores nothing');
  t.equal(await accountCount(env), 2, 'one account per token');
});

t.test('6 + 13. user swap / foreign state: bob’s state with alice’s cookie binds nobody; no token request', async (t) => {
  const env = await connectProject(services);
  const alice = await startOAuth(env, await env.mint({ externalUserId: 'alice' }));
  const bob = await startOAuth(env, await env.mint({ externalUserId: 'bob' }));
  const bobBack = await authorizeHeadless(bob.authorizeUrl.toString(), 'bob');

  const swapped = await callback(bobBack, alice.jar);
  t.equal(swapped.status, 400);
  t.match(await swapped.text(), /could not be verified/);
  t.equal(env.oidc.tokenRequests().length, 0, 'no token request for a state from another browser');

  const tampered = new URL(bobBack);
  const aliceState = alice.authorizeUrl.searchParams.get('state')!;
  // Change the last character to one it is not (replacing it with a fixed 'x' would be a no-op once in 62 runs).
  tampered.searchParams.set('state', aliceState.slice(0, -1) + (aliceState.endsWith('x') ? 'y' : 'x'));
  t.equal((await callback(tampered, alice.jar)).status, 400, 'a tampered state is unknown');

  const aliceBack = await authorizeHeadless(alice.authorizeUrl.toString(), 'alice');
  t.equal((await callback(aliceBack, alice.jar)).status, 303, 'alice’s own flow still works');
  const accounts = await env.testApp.database.handle.db
    .selectFrom('accounts')
    .select(['external_id', 'name'])
    .where('project_id', '=', env.client.projectId)
    .execute();
  t.same(accounts, [{ external_id: 'alice', name: 'alice' }], 'alice is bound to alice only; bob gets nothing');
});

t.test('7. app swap: a token pinned to one app cannot start another', async (t) => {
  const env = await connectProject(services);
  const pinned = (await env.pd.tokens.create({ externalUserId: 'user-1', appId: 'keys-test' } as never)).token;
  t.equal((await fetch(`${env.publicUrl}/connect?token=${pinned}&app=oidc-test`)).status, 403);
  t.equal((await postForm(env, '/connect/oauth/start', { token: pinned, app: 'oidc-test' })).status, 403);
  t.equal(env.oidc.authorizationRequests().length, 0);
});

t.test('11. CSRF: a callback without the browser cookie makes no token request', async (t) => {
  const env = await connectProject(services);
  const { authorizeUrl } = await startOAuth(env, await env.mint());
  const back = await authorizeHeadless(authorizeUrl.toString());
  const res = await callback(back, new CookieJar());
  t.equal(res.status, 400);
  t.equal(res.headers.get('referrer-policy'), 'no-referrer');
  t.equal(res.headers.get('cache-control'), 'no-store');
  t.equal(env.oidc.tokenRequests().length, 0);
  t.equal(await accountCount(env), 0);
});

t.test('12. state reuse: replaying a successful callback is refused; the token endpoint was called once', async (t) => {
  const env = await connectProject(services);
  const { authorizeUrl, jar } = await startOAuth(env, await env.mint());
  const back = await authorizeHeadless(authorizeUrl.toString());
  t.equal((await callback(back, jar)).status, 303);
  const replay = await callback(back, jar);
  t.equal(replay.status, 400);
  t.equal(env.oidc.tokenRequests().length, 1);
  t.equal(await accountCount(env), 1);
});

t.test('14. expired state: refused before any token request', async (t) => {
  const env = await connectProject(services);
  const { authorizeUrl, jar } = await startOAuth(env, await env.mint());
  const back = await authorizeHeadless(authorizeUrl.toString());
  const stored = await env.testApp.database.handle.db
    .selectFrom('oauth_states')
    .select(['expires_at', 'created_at'])
    .where('project_id', '=', env.client.projectId)
    .executeTakeFirstOrThrow();
  t.ok(stored.expires_at.getTime() - stored.created_at.getTime() <= 600_000, 'a state lives at most 10 minutes');
  await env.testApp.database.handle.db
    .updateTable('oauth_states')
    .set({ expires_at: new Date(Date.now() - 60_000) })
    .where('project_id', '=', env.client.projectId)
    .execute();
  const res = await callback(back, jar);
  t.equal(res.status, 400);
  t.match(await res.text(), /took too long/);
  t.equal(env.oidc.tokenRequests().length, 0);
});

t.test('15. code injection: the victim’s state with the attacker’s code fails PKCE at the AS; nothing is linked', async (t) => {
  const env = await connectProject(services);
  const attacker = await startOAuth(env, await env.mint({ externalUserId: 'mallory' }));
  const attackerBack = await authorizeHeadless(attacker.authorizeUrl.toString(), 'mallory');
  const victim = await startOAuth(env, await env.mint({ externalUserId: 'victim' }));
  const victimBack = await authorizeHeadless(victim.authorizeUrl.toString(), 'victim');

  const injected = new URL(victimBack);
  injected.searchParams.set('code', attackerBack.searchParams.get('code')!);
  const res = await callback(injected, victim.jar);
  t.equal(res.status, 303);
  t.match(await (await fetch(`${env.publicUrl}${res.headers.get('location')!}`)).text(), /Connection failed/);
  t.equal(env.oidc.tokenRequests().length, 1);
  t.equal(env.oidc.tokenRequests()[0]!.status, 400, 'the AS refused: the victim’s verifier does not match the attacker’s challenge');
  t.equal(await accountCount(env), 0);
});

t.test('16 + 17. mix-up: a wrong iss, or no iss where one is declared, is refused before any token request', async (t) => {
  const env = await connectProject(services);
  for (const [name, change] of [
    ['iss of another authorization server', (url: URL) => url.searchParams.set('iss', 'http://127.0.0.1:1')],
    ['iss with a trailing slash', (url: URL) => url.searchParams.set('iss', `${env.oidc.issuer}/`)],
    ['no iss', (url: URL) => url.searchParams.delete('iss')],
  ] as const) {
    const { authorizeUrl, jar } = await startOAuth(env, await env.mint());
    const back = await authorizeHeadless(authorizeUrl.toString());
    change(back);
    const res = await callback(back, jar);
    t.equal(res.status, 400, name);
  }
  t.equal(env.oidc.tokenRequests().length, 0);

  // Without a declared issuer (oidc-tenant), a present iss must still be the AS's origin.
  const { authorizeUrl, jar } = await startOAuth(env, await env.mint(), { app: 'oidc-tenant', f_tenant: 'acme' });
  const back = await authorizeHeadless(authorizeUrl.toString());
  back.searchParams.set('iss', 'http://127.0.0.1:1');
  t.equal((await callback(back, jar)).status, 400, 'fallback: the authorization server’s origin');
  t.equal(env.oidc.tokenRequests().length, 0);
});

t.test('18. PKCE downgrade: a registry entry asking for plain PKCE does not load', async (t) => {
  const definitions = testAppDefinitions({ as: 'http://127.0.0.1:1', api: 'http://127.0.0.1:2' });
  const oidc = definitions.find((d) => (d as { slug: string }).slug === 'oidc-test') as { oauth: Record<string, unknown> };
  t.throws(() => registryFromDefinitions([{ ...oidc, oauth: { ...oidc.oauth, pkce: 'plain' } }], { insecureLoopback: true }), RegistryError);
});

t.test('19 + 21. PKCE always S256 with a 43-character verifier; redirect_uri byte-identical in both requests', async (t) => {
  const env = await connectProject(services);
  for (let i = 0; i < 3; i++) {
    const { authorizeUrl, jar } = await startOAuth(env, await env.mint());
    t.equal(authorizeUrl.searchParams.get('code_challenge_method'), 'S256');
    const back = await authorizeHeadless(authorizeUrl.toString());
    t.equal((await callback(back, jar)).status, 303);
    const tokenRequest = env.oidc.tokenRequests()[i]!;
    t.match(tokenRequest.params['code_verifier'], /^[A-Za-z0-9_-]{43}$/, 'a 43-character verifier');
    t.equal(s256Challenge(tokenRequest.params['code_verifier']!), authorizeUrl.searchParams.get('code_challenge'), 'S256(verifier) = challenge');
    const authorizeQuery = env.oidc.authorizationRequests()[i]!.query;
    const rawAuthorizeRedirect = /(?:^|&)redirect_uri=([^&]*)/.exec(authorizeQuery)![1]!;
    t.equal(decodeURIComponent(rawAuthorizeRedirect), tokenRequest.params['redirect_uri'], 'byte-identical redirect_uri');
    t.equal(tokenRequest.params['redirect_uri'], `${env.publicUrl}/connect/oauth/callback`);
  }
  t.equal(new Set(env.oidc.tokenRequests().map((r) => r.params['code_verifier'])).size, 3, 'a fresh verifier per flow');
});

t.test('20. malformed or scripted redirect URIs are refused when the token is minted', async (t) => {
  // An absolute https URL is the authenticated backend's choice (Pipedream's contract); what must
  // never pass is a URL that is relative, scripted, carries userinfo or hides its host.
  const env = await connectProject(services);
  for (const uri of ['//evil.com', 'https://good.com@evil.com', 'javascript:alert(1)', 'https:\\\\evil.com', 'data:text/html,x']) {
    const res = await env.testApp.app.server.inject({
      method: 'POST',
      url: `/v1/connect/${env.client.projectId}/tokens`,
      headers: { authorization: `Bearer ${env.client.accessToken}`, 'x-pd-environment': 'production' },
      payload: { external_user_id: 'u', success_redirect_uri: uri },
    });
    t.equal(res.statusCode, 400, uri);
  }
});

t.test('22 + 23 + database dump: no code, state, verifier, token or key in logs, Referer or any column', async (t) => {
  const env = await connectProject(services);
  const connectToken = await env.mint({ successRedirectUri: 'http://127.0.0.1:9/done' });
  const { authorizeUrl, jar } = await startOAuth(env, connectToken);
  const back = await authorizeHeadless(authorizeUrl.toString());
  const done = await callback(back, jar);
  t.equal(done.status, 303);
  t.equal(done.headers.get('referrer-policy'), 'no-referrer', '23: the callback sends no Referer onward');
  t.same([...new URL(done.headers.get('location')!).searchParams.keys()], ['account_id'], '23: and redirects to a URL without code or state');
  const keysToken = await env.mint();
  t.equal((await postForm(env, '/connect/keys', { token: keysToken, app: 'keys-test', f_api_key: GOOD_KEY })).status, 303);
  const failedToken = await env.mint();
  await postForm(env, '/connect/keys', { token: failedToken, app: 'keys-test', f_api_key: 'sk_wrongkey99' });

  // One authorization left in flight, so oauth_states holds a sealed verifier and fields at dump time.
  const inFlight = await startOAuth(env, await env.mint(), { app: 'oidc-tenant', f_tenant: 'tenantsecretname' });
  const pending = await env.testApp.database.handle.db
    .selectFrom('oauth_states')
    .selectAll()
    .where('project_id', '=', env.client.projectId)
    .executeTakeFirstOrThrow();
  const pendingVerifier = await env.testApp.app.vault.openString(
    {
      table: 'oauth_states',
      column: 'code_verifier_enc',
      rowId: pending.digest.toString('hex'),
      projectId: pending.project_id,
      environment: pending.environment,
    },
    pending.code_verifier_enc!,
  );
  t.equal(s256Challenge(pendingVerifier), inFlight.authorizeUrl.searchParams.get('code_challenge'), 'the sealed verifier is the one behind the challenge');

  const tokenRequest = env.oidc.tokenRequests()[0]!;
  const secrets: Record<string, string> = {
    'in-flight state': inFlight.authorizeUrl.searchParams.get('state')!,
    'in-flight code verifier': pendingVerifier,
    'in-flight fields': 'tenantsecretname',
    'connect token': connectToken,
    'keys connect token': keysToken,
    state: authorizeUrl.searchParams.get('state')!,
    code: back.searchParams.get('code')!,
    'code verifier': tokenRequest.params['code_verifier']!,
    'access token': env.oidc.issued.accessTokens[0]!,
    'refresh token': env.oidc.issued.refreshTokens[0]!,
    'binding cookie': jar.header().split('=')[1]!,
    'client secret': env.oidc.clientSecret,
    'api key': GOOD_KEY,
    'wrong api key': 'sk_wrongkey99',
  };

  const logs = env.testApp.logs();
  t.match(logs, /connect\/oauth\/callback/, 'the callback was logged (without its query)');
  for (const [name, value] of Object.entries(secrets)) t.notOk(logs.includes(value), `22: no ${name} in the logs`);

  const db = env.testApp.database.handle.db;
  const tables = await sql<{
    table_name: string;
  }>`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(db);
  let dump = '';
  for (const { table_name: table } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db);
    dump += JSON.stringify(rows.rows, (_key, value: unknown) => (Buffer.isBuffer(value) ? value.toString('latin1') : value));
    for (const row of rows.rows) {
      for (const value of Object.values(row)) if (Buffer.isBuffer(value)) dump += value.toString('utf8');
    }
  }
  t.ok(tables.rows.some((r) => r.table_name === 'accounts') && dump.length > 1000, 'the dump covers the schema');
  for (const [name, value] of Object.entries(secrets)) t.notOk(dump.includes(value), `no plaintext ${name} in any column`);
});

t.test('24. clickjacking: frame-ancestors none without allowed_origins, exactly the allowed origins with them', async (t) => {
  const env = await connectProject(services);
  const plain = await fetch(`${env.publicUrl}/connect?token=${await env.mint()}&app=keys-test`);
  t.match(plain.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  t.equal(plain.headers.get('x-frame-options'), 'DENY');
  const origins = ['http://127.0.0.1:8123', 'https://app.example.com'];
  const framed = await fetch(`${env.publicUrl}/connect?token=${await env.mint({ allowedOrigins: origins })}&app=keys-test`);
  t.match(framed.headers.get('content-security-policy'), /frame-ancestors http:\/\/127\.0\.0\.1:8123 https:\/\/app\.example\.com(;|$)/);
  const callbackPage = await fetch(`${env.publicUrl}/connect/oauth/callback?state=x`);
  t.match(callbackPage.headers.get('content-security-policy'), /frame-ancestors 'none'/, 'the callback’s pages are never framable');
});

t.test('25. hostile registry values render as text, in the markup and in Chromium', async (t) => {
  const env = await connectProject(services);
  const token = await env.mint({ allowedOrigins: ['http://127.0.0.1:8123'] });
  const url = `${env.publicUrl}/connect?token=${token}&app=hostile`;
  const html = await (await fetch(url)).text();
  t.notMatch(html, /<img src=x/, 'the app name is escaped');
  t.match(html, /&lt;img src&#61;x onerror&#61;alert\(1\)&gt;/);
  t.notMatch(html, /<svg/, 'the field label is escaped');
  t.notMatch(html, /<\/script><script>alert/, 'the description cannot close a script');
  t.notMatch(html, /' autofocus onfocus/, 'the placeholder cannot leave its attribute');
  t.notMatch(html, /<b>bold<\/b>/);
  const data = /<script type="application\/json" id="latchkey-data">(.*?)<\/script>/s.exec(html)![1]!;
  t.notMatch(data, /[<>\u2028]/, 'the JSON block has no raw <, > or U+2028');

  const formError = await postForm(env, '/connect/keys', { token, app: 'hostile', f_api_key: '' });
  t.notMatch(await formError.text(), /<svg/, 'the label is escaped inside error messages too');

  await t.test('in Chromium', { skip: browserSkipReason() }, async (t) => {
    const { page, errors } = await openPage(t);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(url);
    t.equal(await page.locator('h1').textContent(), 'Connect <img src=x onerror=alert(1)>', 'shown as text');
    await page.locator('#f_api_key').focus();
    t.same(dialogs, [], 'no script ran');
    t.same(
      errors.filter((e) => !/favicon/.test(e)),
      [],
      'no CSP violation either: nothing was injected to block',
    );
  });
});
