import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { TEST_ADMIN_TOKEN, TEST_KEYS, buildTestApp, createProjectClient } from '../fixtures/app.ts';

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };

interface AuditPage {
  data: {
    id: string;
    at: string;
    project_id: string | null;
    actor: string;
    action: string;
    account_id: string | null;
    result: string;
    details: Record<string, unknown> | null;
  }[];
  page_info: { count: number; start_cursor: string | null; end_cursor: string | null };
}

t.test('GET /v1/admin/audit: own last action visible at once; filters by account, action, project and time; pages', async (t) => {
  // A database of its own: the newest entry of the whole log, and entries by account id alone.
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const server = testApp.app.server;
  const auditLog = testApp.app.auditLog;
  const get = async (query: string): Promise<AuditPage> => {
    const res = await server.inject({ method: 'GET', url: `/v1/admin/audit${query}`, headers: admin });
    t.equal(res.statusCode, 200, query);
    return res.json<AuditPage>();
  };

  // The admin's own action shows up in the very next read (the read flushes the buffer first).
  const created = await server.inject({ method: 'POST', url: '/v1/admin/projects', headers: admin, payload: { name: 'audited' } });
  const projectId = created.json<{ id: string }>().id;
  const latest = await get('?limit=1');
  t.hasStrict(latest.data[0], {
    actor: 'admin',
    action: 'project.create',
    result: 'ok',
    project_id: null,
    details: { project_id: projectId, name: 'audited' },
  });

  // A client secret is never in the log.
  const client = await server.inject({ method: 'POST', url: `/v1/admin/projects/${projectId}/clients`, headers: admin, payload: { name: 'backend' } });
  const { client_id: clientId, client_secret: clientSecret } = client.json<{ client_id: string; client_secret: string }>();
  const revoke = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${projectId}/clients/${clientId}`, headers: admin });
  t.equal(revoke.statusCode, 204);
  const again = await server.inject({ method: 'DELETE', url: `/v1/admin/projects/${projectId}/clients/${clientId}`, headers: admin });
  t.equal(again.statusCode, 404);
  const clientEntries = await get(`?project_id=${projectId}`);
  t.same(
    clientEntries.data.map((e) => [e.action, e.result]),
    [
      ['client.revoke', 'not_found'],
      ['client.revoke', 'ok'],
      ['client.create', 'ok'],
    ],
  );
  t.hasStrict(clientEntries.data[2]!.details, { client_id: clientId, name: 'backend', scopes: ['*'] });
  const raw = JSON.stringify(await testApp.database.handle.db.selectFrom('audit_log').selectAll().execute());
  t.notMatch(raw, clientSecret);
  t.notMatch(raw, /client_secret/);

  // Entries a credential read would record, for two accounts, in two time windows.
  const record = (accountId: string, action = 'credentials.read') =>
    auditLog.record({ projectId, environment: 'production', actor: `client:${clientId}`, action, accountId, result: 'ok', details: { app: 'github' } });
  record('apn_A');
  record('apn_B');
  await auditLog.flush();
  await sleep(30);
  const boundary = new Date().toISOString();
  await sleep(30);
  record('apn_A');
  record('apn_A', 'account.delete');
  record('apn_B');

  const accountA = await get('?account_id=apn_A');
  t.equal(accountA.data.length, 3);
  t.ok(accountA.data.every((e) => e.account_id === 'apn_A'));
  t.same(
    accountA.data.map((e) => e.action),
    ['account.delete', 'credentials.read', 'credentials.read'],
    'newest first',
  );
  t.equal((await get('?account_id=apn_A&action=credentials.read')).data.length, 2);
  t.equal((await get(`?account_id=apn_A&since=${encodeURIComponent(boundary)}`)).data.length, 2, 'since is inclusive of later entries');
  t.equal((await get(`?account_id=apn_A&until=${encodeURIComponent(boundary)}`)).data.length, 1, 'until excludes later entries');
  const windowB = await get(`?account_id=apn_B&since=${encodeURIComponent(boundary)}&until=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
  t.equal(windowB.data.length, 1);
  t.ok(Date.parse(windowB.data[0]!.at) >= Date.parse(boundary));
  t.equal((await get('?account_id=apn_C')).data.length, 0);
  t.equal((await get('?project_id=proj_other0000')).data.length, 0);

  // Keyset pages over the whole project, newest first, no overlap, nothing missed.
  const all = await get(`?project_id=${projectId}&limit=1000`);
  const seen: string[] = [];
  let after: string | null = null;
  do {
    const page: AuditPage = await get(`?project_id=${projectId}&limit=2${after === null ? '' : `&after=${after}`}`);
    t.ok(page.data.length <= 2);
    seen.push(...page.data.map((e) => e.id));
    after = page.page_info.end_cursor;
  } while (after !== null);
  t.same(
    seen,
    all.data.map((e) => e.id),
  );
  t.equal(new Set(seen).size, 8);

  for (const bad of [
    '?since=yesterday',
    '?until=2026-13-45T00:00:00Z',
    '?account_id=nope',
    '?project_id=nope',
    '?limit=0',
    '?limit=100000',
    '?after=abc',
    '?action=DROP%20TABLE',
    '?x=1',
    `?since=${encodeURIComponent(new Date().toISOString())}&until=2020-01-01T00:00:00Z`,
  ]) {
    const res = await server.inject({ method: 'GET', url: `/v1/admin/audit${bad}`, headers: admin });
    t.equal(res.statusCode, 400, bad);
    t.equal(res.json().error.code, 'validation_failed');
  }
});

t.test('a project client reading the audit log is refused and recorded as denied', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const client = await createProjectClient(testApp, ['connect:accounts:read']);
  const res = await server.inject({ method: 'GET', url: '/v1/admin/audit', headers: { authorization: `Bearer ${client.accessToken}` } });
  t.equal(res.statusCode, 403);
  const audit = await server.inject({ method: 'GET', url: `/v1/admin/audit?project_id=${client.projectId}&action=admin.access`, headers: admin });
  t.hasStrict(audit.json().data, [{ actor: `client:${client.clientId}`, result: 'denied', details: { method: 'GET', route: '/v1/admin/audit' } }]);
});

t.test('GET /v1/admin/keys/status: active and configured KEKs and data keys per KEK, never key material', async (t) => {
  const second = 'test2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=';
  // A database of its own: the status counts every data key there is.
  const testApp = await buildTestApp(t, { env: { LATCHKEY_KEYS: `${second},${TEST_KEYS}` }, privateDatabase: true });
  const server = testApp.app.server;
  const { projectId } = await createProjectClient(testApp);
  await testApp.app.vault.seal({ table: 'accounts', column: 'credentials_enc', rowId: 'apn_x', projectId, environment: 'production' }, 'plaintext');
  const res = await server.inject({ method: 'GET', url: '/v1/admin/keys/status', headers: admin });
  t.equal(res.statusCode, 200);
  const body = res.json<{ active_kek_id: string; configured_kek_ids: string[]; data_keys_by_kek: { kek_id: string; count: number; configured: boolean }[] }>();
  t.equal(body.active_kek_id, testApp.keyring.activeId);
  t.same([...body.configured_kek_ids].sort(), ['test1', 'test2']);
  t.same(body.data_keys_by_kek, [{ kek_id: 'test2', count: 1, configured: true }], "the one project's data key, wrapped by the active KEK");
  for (const material of [TEST_KEYS.split(':')[1]!, second.split(':')[1]!]) t.notMatch(res.body, material);
  t.notMatch(res.body, /wrapped|material/);
  t.equal((await server.inject({ method: 'GET', url: '/v1/admin/keys/status' })).statusCode, 401);
});
