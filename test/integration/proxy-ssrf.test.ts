// The proxy's SSRF battery (security catalogue §5 items 59 and 63). Each attempt must be refused
// with 403 host_not_allowed — or, for a redirect, returned and not followed — without the upstream
// or any other local port receiving a connection: the listeners count every TCP connection they
// accept, and the injected resolver records every name it was asked.
//   production-like egress (no LATCHKEY_INSECURE_LOOPBACK): names that resolve to loopback,
//     private, link-local, CGNAT, metadata, multicast, IPv4-mapped addresses; templated host
//     values that try to escape their label;
//   test egress (loopback allowed, as in every other test): hosts outside the app's allowed hosts,
//     the same server by IP literal in every notation, userinfo tricks, other schemes, redirects.
import t, { type Test } from 'tap';
import type { ResolvedAddress } from '../../src/egress/resolver.ts';
import { registryFromDefinitions } from '../../src/registry/loader.ts';
import { startCountingListener, type CountingListener } from '../fixtures/counting-listener.ts';
import { seedAccount, seedProject, type Seeded } from '../fixtures/refresh-seed.ts';

const KEY = 'ssrf-key-0123456789';
const b64 = (value: string): string => Buffer.from(value, 'utf8').toString('base64');

async function listener(t: Test): Promise<CountingListener> {
  const counting = await startCountingListener();
  t.teardown(() => counting.close());
  return counting;
}

async function proxy(seeded: Seeded, accountId: string, target: string): Promise<{ status: number; code: string | undefined; location: string | undefined }> {
  const res = await seeded.testApp.app.server.inject({
    method: 'GET',
    url: `/v1/connect/${seeded.client.projectId}/proxy/${encodeURIComponent(b64(target))}?external_user_id=user-1&account_id=${accountId}`,
    headers: { authorization: `Bearer ${seeded.client.accessToken}` },
  });
  const body = res.body === '' ? {} : (res.json() as { error?: { code?: string } });
  return { status: res.statusCode, code: body.error?.code, location: res.headers.location as string | undefined };
}

t.test('production egress: names that resolve to non-public addresses, templated hosts that escape', async (t) => {
  const upstream = await listener(t);
  const P = upstream.port;
  const answers: Record<string, readonly ResolvedAddress[]> = {
    'loop.proxy-ssrf.com': [{ address: '127.0.0.1', family: 4 }],
    'ten.proxy-ssrf.com': [{ address: '10.0.0.1', family: 4 }],
    'meta.proxy-ssrf.com': [{ address: '169.254.169.254', family: 4 }],
    'cgnat.proxy-ssrf.com': [{ address: '100.64.0.1', family: 4 }],
    'zero.proxy-ssrf.com': [{ address: '0.0.0.0', family: 4 }],
    'multicast.proxy-ssrf.com': [{ address: '224.0.0.1', family: 4 }],
    'six.proxy-ssrf.com': [{ address: '::1', family: 6 }],
    'mapped.proxy-ssrf.com': [{ address: '::ffff:127.0.0.1', family: 6 }],
    'ula.proxy-ssrf.com': [{ address: 'fd00::1', family: 6 }],
    'link6.proxy-ssrf.com': [{ address: 'fe80::1', family: 6 }],
    'nat64.proxy-ssrf.com': [{ address: '64:ff9b::a9fe:a9fe', family: 6 }],
    // One bad address in the answer refuses it all: the socket might try any of them.
    'mixed.proxy-ssrf.com': [
      { address: '93.184.216.34', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ],
  };
  const asked: string[] = [];
  const resolveHost = async (name: string): Promise<readonly ResolvedAddress[]> => {
    asked.push(name);
    return answers[name] ?? [];
  };
  const apps = registryFromDefinitions(
    [
      {
        slug: 'ssrf-tenant',
        name: 'SSRF tenant',
        auth_type: 'keys',
        // No pattern on the subdomain: the proxy must hold even when the registry entry does not.
        fields: [
          { name: 'subdomain', label: 'Subdomain' },
          { name: 'api_key', label: 'API key', secret: true },
        ],
        api: { base_url: `https://{subdomain}.proxy-ssrf.com:${P}/api`, auth: { type: 'header', headers: { Authorization: 'Bearer {api_key}' } } },
      },
    ],
    { insecureLoopback: false },
  ).list();
  const seeded = await seedProject(t, { apps: [...apps], app: { env: { LATCHKEY_INSECURE_LOOPBACK: 'false' }, resolveHost } });
  const account = (subdomain: string) =>
    seedAccount(seeded, { appSlug: 'ssrf-tenant', credentials: { subdomain, api_key: KEY }, oauthAppId: null, refreshToken: null, expiresInSeconds: null });

  for (const name of Object.keys(answers)) {
    const label = name.split('.')[0]!;
    const id = await account(label);
    const relative = await proxy(seeded, id, '/x');
    t.same(relative, { status: 403, code: 'host_not_allowed', location: undefined }, `${name} (relative url) is refused`);
    const absolute = await proxy(seeded, id, `https://${name}:${P}/api/x`);
    t.same(absolute, { status: 403, code: 'host_not_allowed', location: undefined }, `${name} (absolute url) is refused`);
  }
  t.ok(asked.includes('loop.proxy-ssrf.com'), 'the names were resolved (and their answers judged)');

  asked.length = 0;
  for (const hostile of [
    'evil.com#',
    'evil.com@',
    'evil.com/',
    'evil.com?',
    '%2e',
    'a%2eb',
    '..',
    '.evil',
    'evil.com:80',
    '127.0.0.1',
    'a/../b',
    'evil.com\\',
    ' evil',
    '',
  ]) {
    const id = await account(hostile);
    t.same(await proxy(seeded, id, '/x'), { status: 403, code: 'host_not_allowed', location: undefined }, `subdomain ${JSON.stringify(hostile)} is refused`);
    const absolute = await proxy(seeded, id, `https://${hostile}.proxy-ssrf.com:${P}/api/x`);
    t.equal(absolute.status === 403 || absolute.status === 400, true, `an absolute url built on ${JSON.stringify(hostile)} is refused (${absolute.status})`);
  }
  t.same(asked, [], 'no hostile template value was ever resolved');
  t.equal(upstream.connections(), 0, 'the upstream port received no connection');
});

t.test('test egress: hosts outside the allowed hosts, IP literals in every notation, schemes, userinfo, redirects', async (t) => {
  const upstream = await listener(t);
  const other = await listener(t);
  const P = upstream.port;
  const Q = other.port;
  upstream.handler = (req, res) => {
    const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
    if (to !== null) res.writeHead(302, { location: to }).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  const apps = registryFromDefinitions(
    [
      {
        slug: 'ssrf-local',
        name: 'SSRF local',
        auth_type: 'keys',
        fields: [{ name: 'api_key', label: 'API key', secret: true }],
        api: { base_url: `http://localhost:${P}/api`, auth: { type: 'header', headers: { 'x-key': '{api_key}' } } },
      },
    ],
    { insecureLoopback: true },
  ).list();
  const seeded = await seedProject(t, { apps: [...apps] });
  const id = await seedAccount(seeded, { appSlug: 'ssrf-local', credentials: { api_key: KEY }, oauthAppId: null, refreshToken: null, expiresInSeconds: null });

  t.same(await proxy(seeded, id, '/ok'), { status: 200, code: undefined, location: undefined }, 'positive control: the allowed host answers');
  const afterControl = upstream.connections();
  t.ok(afterControl >= 1, 'the control reached the upstream');

  const refused = [
    'https://evil.com/',
    `http://127.0.0.1:${P}/api/ok`,
    `http://2130706433:${P}/api/ok`,
    `http://0x7f000001:${P}/api/ok`,
    `http://0x7f.1:${P}/api/ok`,
    `http://017700000001:${P}/api/ok`,
    `http://0177.0.0.1:${P}/api/ok`,
    `http://127.1:${P}/api/ok`,
    `http://127.0.1:${P}/api/ok`,
    `http://[::1]:${P}/api/ok`,
    `http://[::ffff:127.0.0.1]:${P}/api/ok`,
    `http://[::ffff:7f00:1]:${P}/api/ok`,
    `http://[0:0:0:0:0:ffff:127.0.0.1]:${P}/api/ok`,
    `http://localhost.:${P}/api/ok`,
    `http://localhost:${Q}/`,
    `http://localhost:${P}@127.0.0.1:${Q}/`,
    `http://127.0.0.1:${Q}#@localhost:${P}/`,
    `http://evil.com@localhost:${P}/api/ok`,
    `http://user:pass@localhost:${P}/api/ok`,
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    `ftp://localhost:${P}/`,
    `gopher://localhost:${P}/`,
    'file:///etc/passwd',
    `//127.0.0.1:${Q}/`,
    `/\\127.0.0.1:${Q}/`,
  ];
  for (const target of refused) {
    const answer = await proxy(seeded, id, target);
    const expected = target.startsWith('/') ? { status: 400, code: 'validation_failed' } : { status: 403, code: 'host_not_allowed' };
    t.same(answer, { ...expected, location: undefined }, `${target} is refused`);
  }
  t.equal(upstream.connections(), afterControl, 'no refused url reached the upstream');

  for (const to of [`http://127.0.0.1:${Q}/`, 'http://169.254.169.254/latest/meta-data/', `http://localhost:${P}/api/ok`]) {
    const answer = await proxy(seeded, id, `/redirect?to=${encodeURIComponent(to)}`);
    t.same(answer, { status: 302, code: undefined, location: to }, `a redirect to ${to} is returned, not followed`);
  }
  t.equal(other.connections(), 0, 'the other local port received no connection');
  t.equal(upstream.requests.filter((line) => line.includes('/api/ok')).length, 1, 'only the control reached /api/ok: no redirect was followed');
});
