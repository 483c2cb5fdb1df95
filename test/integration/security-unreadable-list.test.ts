// Security suite, data at rest: one account whose stored secrets cannot be decrypted must not fail
// a whole include_credentials list (security catalogue §5 item 33, tampered ciphertext: the
// single read answers 500 credential_unreadable; a list names the broken account and goes on).
import t from 'tap';
import { keysTestApp, seedAccount, seedProject } from '../fixtures/refresh-seed.ts';

t.test('include_credentials=true list with one undecryptable account: 200, that account without credentials and with its error', async (t) => {
  const seeded = await seedProject(t, { apps: [keysTestApp('keyed')] });
  const { testApp, client } = seeded;
  const db = testApp.database.handle.db;
  const keyed = { appSlug: 'keyed', oauthAppId: null, refreshToken: null, expiresInSeconds: null } as const;
  const first = await seedAccount(seeded, { ...keyed, externalUserId: 'alice', credentials: { api_key: 'key-alice-0123456789' } });
  const broken = await seedAccount(seeded, { ...keyed, externalUserId: 'bob', credentials: { api_key: 'key-bob-0123456789' } });
  const last = await seedAccount(seeded, { ...keyed, externalUserId: 'carol', credentials: { api_key: 'key-carol-0123456789' } });

  // Flip one bit of the authentication tag: the ciphertext no longer opens.
  const row = await db.selectFrom('accounts').select('credentials_enc').where('id', '=', broken).executeTakeFirstOrThrow();
  const tampered = Buffer.from(row.credentials_enc);
  tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0x01;
  await db.updateTable('accounts').set({ credentials_enc: tampered }).where('id', '=', broken).execute();

  const headers = { authorization: `Bearer ${client.accessToken}` };
  const list = await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts?include_credentials=true`, headers });
  t.equal(list.statusCode, 200);
  const data = list.json<{ data: { id: string; error: string | null; credentials?: Record<string, string | null> }[] }>().data;
  t.same(
    data.map((account) => account.id),
    [first, broken, last],
  );
  t.same(data[0]!.credentials, { api_key: 'key-alice-0123456789' });
  t.equal(data[0]!.error, null);
  t.notOk('credentials' in data[1]!, 'the undecryptable account has no credentials');
  t.equal(data[1]!.error, 'the stored credentials of this account could not be decrypted');
  t.same(data[2]!.credentials, { api_key: 'key-carol-0123456789' });

  // The per-user list (a bare array) behaves the same.
  const users = await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/users/bob/accounts?include_credentials=true`, headers });
  t.equal(users.statusCode, 200);
  t.same(
    users.json<{ id: string; error: string | null; credentials?: unknown }[]>().map((a) => [a.id, a.error, 'credentials' in a]),
    [[broken, 'the stored credentials of this account could not be decrypted', false]],
  );

  // The single read still refuses with the catalogue error.
  const one = await testApp.app.server.inject({ method: 'GET', url: `/v1/connect/${client.projectId}/accounts/${broken}?include_credentials=true`, headers });
  t.equal(one.statusCode, 500);
  t.equal(one.json<{ error: { code: string } }>().error.code, 'credential_unreadable');
  t.notOk(one.body.includes('key-bob-0123456789'));
  t.notOk(testApp.logs().includes('key-bob-0123456789'), 'no plaintext in the logs');
});
