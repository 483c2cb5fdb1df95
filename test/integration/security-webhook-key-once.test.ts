// Security suite: the webhook signing key is shown only when it is created or rotated. Before,
// regenerate → delete webhook → put webhook answered with the same whsec_ again, so anyone who
// could set a webhook could read the key that signs the project's deliveries without rotating it.
import t from 'tap';
import { ensureSigningKey } from '../../src/webhooks/signing-key.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

interface WebhookBody {
  data: { url: string; signing_key?: string; signing_key_set: boolean };
}

t.test('regenerate → delete webhook → put webhook does not show the signing key again', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const client = await createProjectClient(testApp);
  const headers = { authorization: `Bearer ${client.accessToken}`, 'x-pd-environment': 'development' };
  const url = `/v1/connect/${client.projectId}/webhook`;
  const put = (target: string) => server.inject({ method: 'PUT', url, headers, payload: { url: target } });

  const created = await put('https://hooks.example.com/a');
  t.equal(created.statusCode, 200);
  t.match(created.json<WebhookBody>().data.signing_key, /^whsec_/, 'shown when created');

  const regenerated = await server.inject({ method: 'POST', url: `${url}/regenerate_signing_key`, headers });
  t.equal(regenerated.statusCode, 200);
  const rotatedKey = regenerated.json<WebhookBody>().data.signing_key;
  t.match(rotatedKey, /^whsec_/, 'shown when rotated');

  t.equal((await server.inject({ method: 'DELETE', url, headers })).statusCode, 204);
  const again = await put('https://hooks.example.com/b');
  t.equal(again.statusCode, 200);
  t.equal(again.json<WebhookBody>().data.url, 'https://hooks.example.com/b');
  t.equal(again.json<WebhookBody>().data.signing_key_set, true, 'the key that still signs is kept');
  t.notOk('signing_key' in again.json<WebhookBody>().data, 'the kept key is not shown again');
  t.notOk(again.body.includes(rotatedKey!.slice(6)), 'not anywhere in the body');

  // Nor on a second delete and put, nor by GET.
  await server.inject({ method: 'DELETE', url, headers });
  t.notOk('signing_key' in (await put('https://hooks.example.com/c')).json<WebhookBody>().data);
  t.notOk((await server.inject({ method: 'GET', url, headers })).body.includes('whsec_'));

  // A key made for connect-token deliveries before any webhook was set has never been shown:
  // the first webhook shows it, once.
  const prod = { ...headers, 'x-pd-environment': 'production' };
  const madeEarlier = await ensureSigningKey(testApp.database.handle.db, testApp.app.vault, { projectId: client.projectId, environment: 'production' });
  const first = await server.inject({ method: 'PUT', url, headers: prod, payload: { url: 'https://hooks.example.com/p' } });
  t.equal(first.json<WebhookBody>().data.signing_key, madeEarlier, 'shown with the first webhook');
  await server.inject({ method: 'DELETE', url, headers: prod });
  const second = await server.inject({ method: 'PUT', url, headers: prod, payload: { url: 'https://hooks.example.com/p' } });
  t.notOk('signing_key' in second.json<WebhookBody>().data, 'then never again');
});
