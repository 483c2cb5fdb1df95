// Webhooks to internal hosts (hardening issue, Medium item 4; security catalogue §5, item 59):
// the project environment webhook and a connect token's webhook_uri are refused at registration
// in production mode — in both environments, plain http included — and a delivery to an internal
// host (a row stored before the check, or a name whose DNS answer flipped) is recorded as a
// failed attempt with its reason, never retried, and never reaches a socket.
import t, { type Test } from 'tap';
import type { ResolvedAddress } from '../../src/egress/resolver.ts';
import { deliverDueWebhooks } from '../../src/webhooks/delivery.ts';
import { enqueueProjectEvent, enqueueWebhook } from '../../src/webhooks/events.ts';
import { buildTestApp, createProjectClient, type ProjectClient, type TestApp } from '../fixtures/app.ts';
import { startCountingListener, type CountingListener } from '../fixtures/counting-listener.ts';

const PRODUCTION_MODE = { NODE_ENV: 'production', PUBLIC_URL: 'https://latchkey.example.com', LATCHKEY_INSECURE_LOOPBACK: 'false' };

/** Names the tests point on purpose; `flip.attacker.com` answers public once, then loopback. */
function attackerDns() {
  let flips = 0;
  return async (hostname: string): Promise<readonly ResolvedAddress[]> => {
    if (hostname === 'hooks.attacker.com') return [{ address: '10.0.0.5', family: 4 }];
    if (hostname === 'hooks.customer.com') return [{ address: '93.184.215.14', family: 4 }];
    if (hostname === 'flip.attacker.com') return [{ address: flips++ === 0 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
    throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
  };
}

async function setup(t: Test): Promise<{ testApp: TestApp; client: ProjectClient; listener: CountingListener }> {
  const testApp = await buildTestApp(t, { env: PRODUCTION_MODE, resolveHost: attackerDns() });
  const client = await createProjectClient(testApp);
  const listener = await startCountingListener();
  t.teardown(() => listener.close());
  return { testApp, client, listener };
}

/** Issue 10 item 4's list, aimed at a real listener where the address is local. */
function internalUrls(port: number): string[] {
  return [
    `http://127.0.0.1:${port}/hook`,
    `https://127.0.0.1:${port}/hook`,
    'https://169.254.169.254/latest/meta-data/',
    'http://169.254.169.254/latest/meta-data/',
    `https://[::1]:${port}/hook`,
    `http://[::1]:${port}/hook`,
    `https://2130706433:${port}/hook`,
    `https://0x7f.1:${port}/hook`,
    `https://[::ffff:127.0.0.1]:${port}/hook`,
    'https://metadata.google.internal/computeMetadata/v1/',
    `https://localhost:${port}/hook`,
    'https://kubernetes.default.svc/api',
    'https://vault.service.consul/v1/secret',
    `https://127.0.0.1.nip.io:${port}/hook`,
    `https://hooks.attacker.com:${port}/hook`,
  ];
}

t.test('catalogue item 59: the project webhook refuses internal hosts at registration, in both environments', async (t) => {
  const { testApp, client, listener } = await setup(t);
  const server = testApp.app.server;
  for (const environment of ['production', 'development']) {
    const headers = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': environment };
    for (const url of [...internalUrls(listener.port), 'http://hooks.customer.com/hook']) {
      const res = await server.inject({ method: 'PUT', url: `/v1/connect/${client.projectId}/webhook`, headers, payload: { url } });
      t.equal(res.statusCode, 400, `${environment}: ${url} refused`);
      const error = res.json<{ error: { code: string; message: string } }>().error;
      t.equal(error.code, 'validation_failed');
      t.match(error.message, /^url must (name a public host|use https)/, `${url}: the message names the parameter`);
      t.notOk(res.body.includes(new URL(url).hostname), 'the error does not echo the host');
    }
    const accepted = await server.inject({
      method: 'PUT',
      url: `/v1/connect/${client.projectId}/webhook`,
      headers,
      payload: { url: 'https://hooks.customer.com/latchkey' },
    });
    t.equal(accepted.statusCode, 200, `${environment}: a public https receiver is accepted`);
  }
  const stored = await testApp.database.handle.db.selectFrom('environments').select('webhook_url').where('project_id', '=', client.projectId).execute();
  t.same(
    stored.map((row) => row.webhook_url),
    ['https://hooks.customer.com/latchkey', 'https://hooks.customer.com/latchkey'],
    'only the public URL was ever stored',
  );
  t.equal(listener.connections(), 0);
});

t.test('catalogue item 59: a connect token webhook_uri refuses internal hosts at mint time, in both environments', async (t) => {
  const { testApp, client, listener } = await setup(t);
  const server = testApp.app.server;
  for (const environment of ['production', 'development']) {
    const headers = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': environment };
    for (const webhookUri of [...internalUrls(listener.port), 'http://hooks.customer.com/hook']) {
      const res = await server.inject({
        method: 'POST',
        url: `/v1/connect/${client.projectId}/tokens`,
        headers,
        payload: { external_user_id: 'u1', webhook_uri: webhookUri },
      });
      t.equal(res.statusCode, 400, `${environment}: ${webhookUri} refused`);
      t.match(res.json<{ error: { message: string } }>().error.message, /^webhook_uri must (name a public host|use https)/);
    }
  }
  const count = await testApp.database.handle.db
    .selectFrom('connect_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  t.equal(Number(count.n), 0, 'no token was minted');
  const minted = await server.inject({
    method: 'POST',
    url: `/v1/connect/${client.projectId}/tokens`,
    headers: { authorization: `Bearer ${client.accessToken}` },
    payload: { external_user_id: 'u1', webhook_uri: 'https://hooks.customer.com/latchkey?token=abc' },
  });
  t.equal(minted.statusCode, 200, 'a public https webhook_uri is accepted');
  t.equal(listener.connections(), 0);
});

t.test('catalogue item 59: deliveries to internal hosts are refused at the socket, recorded with a reason, and never retried', async (t) => {
  const { testApp, client, listener } = await setup(t);
  const { db } = testApp.database.handle;
  const deliver = () => deliverDueWebhooks({ db, vault: testApp.app.vault, egress: testApp.app.egress });
  // Rows as an older version (or a direct database write) could have left them.
  const expected: Record<string, string> = {
    [`http://127.0.0.1:${listener.port}/hook`]: 'host not allowed (address_loopback)',
    'https://169.254.169.254/latest/meta-data/': 'host not allowed (address_metadata)',
    [`https://[::1]:${listener.port}/hook`]: 'host not allowed (address_loopback)',
    [`https://2130706433:${listener.port}/hook`]: 'host not allowed (address_loopback)',
    [`https://0x7f.1:${listener.port}/hook`]: 'host not allowed (address_loopback)',
    'https://metadata.google.internal/computeMetadata/v1/': 'host not allowed (name_local_only)',
    [`https://hooks.attacker.com:${listener.port}/hook`]: 'host not allowed (address_private)',
  };
  for (const url of Object.keys(expected)) {
    await enqueueWebhook(db, { projectId: client.projectId, environment: 'production', url }, 'CONNECTION_SUCCESS', { account: { id: 'apn_1' } });
  }
  const count = Object.keys(expected).length;
  t.same(await deliver(), { claimed: count, delivered: 0, retrying: 0, gaveUp: count }, 'every refused delivery is given up at once');
  const rows = await db.selectFrom('webhook_outbox').select(['url', 'attempts', 'last_error', 'failed_at', 'delivered_at']).execute();
  t.equal(rows.length, count);
  for (const row of rows) {
    t.equal(row.last_error, expected[row.url], `${row.url}: ${row.last_error}`);
    t.equal(row.attempts, 1, 'one failed attempt recorded');
    t.ok(row.failed_at instanceof Date, 'marked failed');
    t.equal(row.delivered_at, null);
  }
  await db
    .updateTable('webhook_outbox')
    .set({ next_attempt_at: new Date(Date.now() - 1000) })
    .execute();
  t.same(await deliver(), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'a refused delivery is never retried');
  t.equal(listener.connections(), 0, 'no delivery reached a local socket');
  t.notOk(testApp.logs().includes('meta-data'), 'the refused URLs stay out of the logs');
});

t.test('catalogue item 59: a webhook whose name flips to loopback after registration (DNS rebinding) is refused at delivery', async (t) => {
  const { testApp, client, listener } = await setup(t);
  const { db } = testApp.database.handle;
  const url = `https://flip.attacker.com:${listener.port}/hook`;
  const registered = await testApp.app.server.inject({
    method: 'PUT',
    url: `/v1/connect/${client.projectId}/webhook`,
    headers: { authorization: `Bearer ${client.accessToken}` },
    payload: { url },
  });
  t.equal(registered.statusCode, 200, 'at registration the name answered with a public address');
  await enqueueProjectEvent(db, { projectId: client.projectId, environment: 'production' }, 'ACCOUNT_DEAD', { account: { id: 'apn_1' } });
  t.same(await deliverDueWebhooks({ db, vault: testApp.app.vault, egress: testApp.app.egress }), { claimed: 1, delivered: 0, retrying: 0, gaveUp: 1 });
  const row = await db.selectFrom('webhook_outbox').select(['url', 'last_error', 'failed_at']).executeTakeFirstOrThrow();
  t.equal(row.url, url);
  t.equal(row.last_error, 'host not allowed (address_loopback)', 'the answer at delivery time is the one judged');
  t.ok(row.failed_at instanceof Date);
  t.equal(listener.connections(), 0, 'the listener behind the flipped name saw nothing');
});
