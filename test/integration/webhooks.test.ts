import { PipedreamClient } from '@pipedream/sdk';
import t from 'tap';
import { deliverDueWebhooks } from '../../src/webhooks/delivery.ts';
import { pruneWebhookOutbox } from '../../src/webhooks/outbox.repository.ts';
import { enqueueConnectionEvent, enqueueWebhook } from '../../src/webhooks/events.ts';
import { buildTestApp, createProjectClient, type ProjectClient, type TestApp } from '../fixtures/app.ts';
import { startWebhookReceiver, verifyStandardWebhook } from '../fixtures/webhook-receiver.ts';

function sdkFor(baseUrl: string, client: ProjectClient, projectEnvironment: 'development' | 'production' = 'development'): PipedreamClient {
  return new PipedreamClient({ baseUrl, clientId: client.clientId, clientSecret: client.clientSecret, projectId: client.projectId, projectEnvironment });
}

// The delivery tests run on databases of their own: a delivery round claims every due row.
async function outbox(testApp: TestApp) {
  return testApp.database.handle.db.selectFrom('webhook_outbox').selectAll().orderBy('created_at').orderBy('id').execute();
}

t.test('project environment webhook through @pipedream/sdk: set, get, regenerate, delete; project info', async (t) => {
  const testApp = await buildTestApp(t);
  const baseUrl = await testApp.listen();
  const client = await createProjectClient(testApp);
  const pd = sdkFor(baseUrl, client);
  const db = testApp.database.handle.db;

  t.notOk((await pd.projectEnvironment.retrieveWebhook()).data, 'no webhook yet');

  const created = await pd.projectEnvironment.updateWebhook({ url: 'https://hooks.example.com/latchkey' });
  t.equal(created.data.url, 'https://hooks.example.com/latchkey');
  t.match(created.data.signingKey, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a Standard Webhooks secret of 32 bytes');
  t.equal(Buffer.from(created.data.signingKey!.slice(6), 'base64').length, 32);
  t.equal(created.data.signingKeySet, true);
  t.match(created.data.id, /^whk_[0-9a-f]{24}$/);
  t.equal(typeof created.data.createdAt, 'number');

  const fetched = await pd.projectEnvironment.retrieveWebhook();
  t.equal(fetched.data?.url, 'https://hooks.example.com/latchkey');
  t.equal(fetched.data?.signingKeySet, true);
  t.notOk('signingKey' in (fetched.data ?? {}), 'GET never shows the key');

  const changed = await pd.projectEnvironment.updateWebhook({ url: 'https://hooks.example.com/v2' });
  t.equal(changed.data.url, 'https://hooks.example.com/v2');
  t.equal(changed.data.signingKey, undefined, 'updating an existing webhook does not show the key');

  const regenerated = await pd.projectEnvironment.regenerateWebhookSigningKey();
  t.match(regenerated.data.signingKey, /^whsec_/);
  t.not(regenerated.data.signingKey, created.data.signingKey, 'a new key');

  // The key is sealed: a dump of environments holds no plaintext (nor its base64 body).
  const rows = await db.selectFrom('environments').selectAll().execute();
  const dump = rows.map((row) => `${row.webhook_signing_key_enc?.toString('latin1')}${row.webhook_signing_key_enc?.toString('base64')}`).join('');
  for (const key of [created.data.signingKey!, regenerated.data.signingKey]) {
    t.notOk(dump.includes(key.slice(6)), 'no signing key in the table');
    t.notOk(testApp.logs().includes(key.slice(6)), 'no signing key in the logs');
  }

  // Environments are separate.
  const prod = sdkFor(baseUrl, client, 'production');
  t.notOk((await prod.projectEnvironment.retrieveWebhook()).data, 'production has no webhook');

  const server = testApp.app.server;
  const auth = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'production' };
  for (const url of ['http://hooks.example.com/x', '//evil.com', 'javascript:alert(1)', 'https://a@b.example']) {
    const res = await server.inject({ method: 'PUT', url: `/v1/connect/${client.projectId}/webhook`, headers: auth, payload: { url } });
    t.equal(res.statusCode, 400, `production webhook ${url} rejected`);
  }

  await pd.projectEnvironment.deleteWebhook();
  t.notOk((await pd.projectEnvironment.retrieveWebhook()).data, 'deleted');
  const again = await pd.projectEnvironment.updateWebhook({ url: 'https://hooks.example.com/v3' });
  t.equal(again.data.signingKey, undefined, 'setting a webhook again does not show the key again (see security-webhook-key-once)');
  t.equal(again.data.signingKeySet, true, 'the key that still signs is kept');

  const other = await createProjectClient(testApp);
  const cross = await server.inject({
    method: 'GET',
    url: `/v1/connect/${client.projectId}/webhook`,
    headers: { authorization: `Bearer ${other.accessToken}` },
  });
  t.equal(cross.statusCode, 404);
  const readOnly = await createProjectClient(testApp, ['connect:project:read']);
  const denied = await server.inject({
    method: 'POST',
    url: `/v1/connect/${readOnly.projectId}/webhook/regenerate_signing_key`,
    headers: { authorization: `Bearer ${readOnly.accessToken}` },
  });
  t.equal(denied.statusCode, 403);

  await testApp.app.auditLog.flush();
  const audit = await db.selectFrom('audit_log').select(['action', 'result']).where('project_id', '=', client.projectId).execute();
  t.ok(
    audit.some((row) => row.action === 'webhook.signing_key.regenerate' && row.result === 'ok'),
    'key regeneration audited',
  );
  t.ok(
    audit.some((row) => row.action === 'webhook.set'),
    'webhook changes audited',
  );

  // projects/info lists the apps the project uses.
  t.same((await pd.projects.retrieveInfo()).apps, []);
  await pd.oauthApps.create({ app: 'github', clientId: 'id', clientSecret: 'secret' });
  t.same((await pd.projects.retrieveInfo()).apps, [{ id: 'app_github', nameSlug: 'github' }]);
});

t.test('delivery: signed per Standard Webhooks, to the token webhook_uri and the project webhook', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const baseUrl = await testApp.listen();
  const client = await createProjectClient(testApp);
  const pd = sdkFor(baseUrl, client);
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const { db } = testApp.database.handle;
  const vault = testApp.app.vault;
  const egress = testApp.app.egress;

  // A token webhook before any project webhook exists: the key is created on first delivery.
  await pd.tokens.create({ externalUserId: 'u1', webhookUri: `${receiver.url}?token=secret-in-query` });
  const token = await db.selectFrom('connect_tokens').selectAll().executeTakeFirstOrThrow();
  await enqueueConnectionEvent(db, { projectId: client.projectId, environment: 'development', webhookUri: token.webhook_uri }, 'CONNECTION_SUCCESS', {
    connect_token: 'ctid_public',
    account: { id: 'apn_1', name: 'jane', external_id: 'u1', healthy: true, dead: null, app: { name_slug: 'github' } },
  });
  t.equal((await outbox(testApp)).length, 1, 'only the token webhook: no project webhook yet');

  const report = await deliverDueWebhooks({ db, vault, egress });
  t.same(report, { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 });
  t.equal(receiver.received.length, 1);
  const first = receiver.received[0]!;
  t.hasStrict(first.json, { event: 'CONNECTION_SUCCESS', environment: 'development', account: { id: 'apn_1' } });
  t.equal(first.headers['content-type'], 'application/json');
  t.match(first.id, /^whd_/);
  t.ok(Math.abs(Number(first.timestamp) - Date.now() / 1000) < 30, 'timestamp is now, in seconds');
  t.match(first.signature, /^v1,[A-Za-z0-9+/]{43}=$/);

  // Setting the project webhook for the first time reveals the key that signed that delivery.
  const webhook = await pd.projectEnvironment.updateWebhook({ url: receiver.url });
  const key = webhook.data.signingKey!;
  t.ok(verifyStandardWebhook(first, key), 'signature verifies with an independent implementation');
  t.notOk(verifyStandardWebhook({ ...first, body: first.body.replace('jane', 'mallory') }, key), 'a tampered body fails');
  t.notOk(verifyStandardWebhook({ ...first, timestamp: String(Number(first.timestamp) + 1) }, key), 'a changed timestamp fails');
  t.notOk(verifyStandardWebhook(first, `whsec_${Buffer.alloc(32, 1).toString('base64')}`), 'another key fails');

  // Now both the token's URI and the project webhook receive connection events.
  await enqueueConnectionEvent(db, { projectId: client.projectId, environment: 'development', webhookUri: receiver.url }, 'CONNECTION_ERROR', {
    connect_token: 'ctid_public',
    error: 'Test request failed',
  });
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 2, delivered: 2, retrying: 0, gaveUp: 0 });
  t.equal(receiver.received.length, 3);
  for (const webhookReceived of receiver.received.slice(1)) {
    t.ok(verifyStandardWebhook(webhookReceived, key));
    t.equal(webhookReceived.json['event'], 'CONNECTION_ERROR');
  }
  t.not(receiver.received[1]!.id, receiver.received[2]!.id, 'each delivery has its own id');

  // A regenerated key signs the next delivery.
  const regenerated = (await pd.projectEnvironment.regenerateWebhookSigningKey()).data.signingKey;
  await enqueueWebhook(db, { projectId: client.projectId, environment: 'development', url: receiver.url }, 'ACCOUNT_DEAD', { account: { id: 'apn_1' } });
  await deliverDueWebhooks({ db, vault, egress });
  t.ok(verifyStandardWebhook(receiver.received[3]!, regenerated));
  t.notOk(verifyStandardWebhook(receiver.received[3]!, key));
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'nothing is sent twice');
  t.notOk(testApp.logs().includes('secret-in-query'), 'webhook URLs stay out of the logs');
});

t.test('delivery: 500 then 200 is retried with backoff and delivered once; redirects are not followed; giving up', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const client = await createProjectClient(testApp);
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const { db } = testApp.database.handle;
  const vault = testApp.app.vault;
  const egress = testApp.app.egress;
  const target = { projectId: client.projectId, environment: 'production' as const, url: receiver.url };

  receiver.behaviours.push({ status: 500 });
  await enqueueWebhook(db, target, 'CONNECTION_SUCCESS', { n: 1 });
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 1, delivered: 0, retrying: 1, gaveUp: 0 });
  let [row] = await outbox(testApp);
  t.equal(row!.attempts, 1);
  t.equal(row!.last_error, 'http 500');
  t.equal(row!.locked_until, null, 'lease released');
  const delay = (row!.next_attempt_at.getTime() - Date.now()) / 1000;
  t.ok(delay > 1.5 && delay <= 5.5, `first retry after 2.5–5 s with jitter (got ${delay.toFixed(1)} s)`);
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'not before its time');

  await db
    .updateTable('webhook_outbox')
    .set({ next_attempt_at: new Date(Date.now() - 1000) })
    .execute();
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 });
  [row] = await outbox(testApp);
  t.ok(row!.delivered_at instanceof Date);
  t.equal(row!.attempts, 2);
  t.equal(receiver.received.length, 2);
  t.equal(receiver.received[0]!.id, receiver.received[1]!.id, 'the retry carries the same webhook-id (receivers dedupe on it)');
  t.same(
    receiver.received.map((r) => r.answered),
    [500, 200],
  );
  await deliverDueWebhooks({ db, vault, egress });
  t.equal(receiver.received.length, 2, 'delivered exactly once');

  // A redirect is a failure, and its target is never contacted.
  const elsewhere = await startWebhookReceiver();
  t.teardown(() => elsewhere.close());
  const redirecting = await startRedirector(elsewhere.url);
  t.teardown(() => redirecting.close());
  await enqueueWebhook(db, { ...target, url: redirecting.url }, 'CONNECTION_SUCCESS', { n: 2 });
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 1, delivered: 0, retrying: 1, gaveUp: 0 });
  t.equal(elsewhere.received.length, 0, 'redirect not followed');
  t.equal((await outbox(testApp)).find((r) => r.url === redirecting.url)?.last_error, 'redirect 302 not followed');

  // Give up after maxAttempts; the error holds no secret and no URL.
  await db.deleteFrom('webhook_outbox').execute();
  receiver.behaviours.push({ status: 503 }, { status: 503 }, { status: 503 });
  await enqueueWebhook(db, target, 'CONNECTION_SUCCESS', { n: 3 });
  for (let i = 0; i < 3; i++) {
    await db
      .updateTable('webhook_outbox')
      .set({ next_attempt_at: new Date(Date.now() - 1000) })
      .execute();
    await deliverDueWebhooks({ db, vault, egress, maxAttempts: 3 });
  }
  [row] = await outbox(testApp);
  t.ok(row!.failed_at instanceof Date, 'gave up');
  t.equal(row!.attempts, 3);
  t.equal(row!.delivered_at, null);
  t.equal(row!.last_error, 'http 503');
  await db
    .updateTable('webhook_outbox')
    .set({ next_attempt_at: new Date(Date.now() - 1000) })
    .execute();
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'a given-up row stays given up');
  t.equal(await pruneWebhookOutbox(db, { deliveredBefore: new Date(Date.now() - 60_000), failedBefore: new Date(Date.now() - 60_000) }), 0, 'recent rows kept');
  t.equal(
    await pruneWebhookOutbox(db, { deliveredBefore: new Date(Date.now() + 60_000), failedBefore: new Date(Date.now() + 60_000) }),
    1,
    'old given-up row pruned',
  );

  // Nothing listening: a connection error, retried later.
  const closed = await startWebhookReceiver();
  await closed.close();
  await enqueueWebhook(db, { ...target, url: closed.url.replace('/hooks', '/closed') }, 'CONNECTION_SUCCESS', { n: 4 });
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 1, delivered: 0, retrying: 1, gaveUp: 0 });
  t.match((await outbox(testApp)).find((r) => r.url.endsWith('/closed'))?.last_error, /^connection failed \(ECONNREFUSED\)$/);
});

t.test('delivery: a hanging receiver times out, is retried later, and a dead worker’s lease expires', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const client = await createProjectClient(testApp);
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const { db } = testApp.database.handle;
  const vault = testApp.app.vault;
  const egress = testApp.app.egress;
  const target = { projectId: client.projectId, environment: 'production' as const, url: receiver.url };

  receiver.behaviours.push('hang');
  await enqueueWebhook(db, target, 'CONNECTION_SUCCESS', { n: 1 });
  const started = Date.now();
  t.same(await deliverDueWebhooks({ db, vault, egress, timeoutMs: 300 }), { claimed: 1, delivered: 0, retrying: 1, gaveUp: 0 });
  t.ok(Date.now() - started < 5000, 'the deadline cut the request short');
  let [row] = await outbox(testApp);
  t.equal(row!.last_error, 'timeout after 300 ms');
  t.equal(row!.locked_until, null);

  await db
    .updateTable('webhook_outbox')
    .set({ next_attempt_at: new Date(Date.now() - 1000) })
    .execute();
  t.same(await deliverDueWebhooks({ db, vault, egress, timeoutMs: 300 }), { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 });
  t.equal(receiver.received.length, 2);

  // A worker that claimed a row and died: the row is invisible until its lease runs out.
  await enqueueWebhook(db, target, 'CONNECTION_SUCCESS', { n: 2 });
  await db
    .updateTable('webhook_outbox')
    .set({ locked_until: new Date(Date.now() + 60_000) })
    .where('delivered_at', 'is', null)
    .execute();
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 0, delivered: 0, retrying: 0, gaveUp: 0 }, 'leased rows are skipped');
  await db
    .updateTable('webhook_outbox')
    .set({ locked_until: new Date(Date.now() - 1000) })
    .where('delivered_at', 'is', null)
    .execute();
  t.same(await deliverDueWebhooks({ db, vault, egress }), { claimed: 1, delivered: 1, retrying: 0, gaveUp: 0 }, 'an expired lease is taken over');
  [row] = (await outbox(testApp)).filter((r) => (r.payload as { n?: number }).n === 2);
  t.ok(row!.delivered_at instanceof Date);
});

t.test('two app instances on one database deliver 20 events, each exactly once', async (t) => {
  const first = await buildTestApp(t, { privateDatabase: true });
  const second = await buildTestApp(t, { database: first.database });
  const client = await createProjectClient(first);
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const { db } = first.database.handle;
  for (let n = 0; n < 20; n++) {
    await enqueueWebhook(db, { projectId: client.projectId, environment: 'production', url: receiver.url }, 'CONNECTION_SUCCESS', { n });
  }

  const drain = async (testApp: TestApp) => {
    let delivered = 0;
    for (let round = 0; round < 20; round++) {
      const report = await deliverDueWebhooks({
        db: testApp.database.handle.db,
        vault: testApp.app.vault,
        egress: testApp.app.egress,
        batchSize: 3,
        concurrency: 2,
      });
      delivered += report.delivered;
      if (report.claimed === 0 && (await outbox(testApp)).every((row) => row.delivered_at !== null)) break;
    }
    return delivered;
  };
  const [a, b] = await Promise.all([drain(first), drain(second)]);
  t.equal(a + b, 20, `both workers together delivered 20 (${a} + ${b})`);
  t.ok(a > 0 && b > 0, 'both workers took part');
  t.equal(receiver.received.length, 20, 'the receiver saw 20 requests');
  t.equal(new Set(receiver.received.map((r) => r.id)).size, 20, 'no webhook-id twice');
  t.same(
    receiver.received.map((r) => (r.json as { n: number }).n).sort((x, y) => x - y),
    Array.from({ length: 20 }, (_, i) => i),
  );
  // Both instances share the lazily created key: every signature verifies with it.
  const baseUrl = await first.listen();
  const key = (await sdkFor(baseUrl, client, 'production').projectEnvironment.updateWebhook({ url: receiver.url })).data.signingKey!;
  t.ok(
    receiver.received.every((r) => verifyStandardWebhook(r, key)),
    'all signed with the environment key',
  );
});

t.test('the background job is registered and delivers on its own', async (t) => {
  const testApp = await buildTestApp(t, { privateDatabase: true });
  const client = await createProjectClient(testApp);
  const receiver = await startWebhookReceiver();
  t.teardown(() => receiver.close());
  const job = testApp.app.jobs.find((j) => j.name === 'webhook-delivery');
  t.ok(job, 'webhook-delivery job registered');
  await enqueueWebhook(testApp.database.handle.db, { projectId: client.projectId, environment: 'production', url: receiver.url }, 'CONNECTION_SUCCESS', {});
  job!.start();
  t.teardown(() => job!.stop());
  const deadline = Date.now() + 10_000;
  while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  t.equal(receiver.received.length, 1);
});

async function startRedirector(location: string): Promise<{ url: string; close(): Promise<void> }> {
  const { createServer } = await import('node:http');
  const server = createServer((_req, res) => res.writeHead(302, { location }).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/redirect`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
