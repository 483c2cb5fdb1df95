// The egress guard at the socket: real listeners on 127.0.0.1 (and [::1]) count the connections
// they accept, and a refused destination must leave that count at zero — through the guard's
// request(), through undici and fetch with its dispatcher, and through simple-oauth2 (wreck) with
// its Node agents. Names resolve through an injected resolver. Security catalogue §5, item 59.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { AuthorizationCode, type AuthorizationTokenConfig } from 'simple-oauth2';
import t, { type Test } from 'tap';
import { fetch, request as undiciRequest } from 'undici';
import { createByteLimit, readCappedBody } from '../../src/egress/body-limit.ts';
import { EgressError, findEgressError } from '../../src/egress/egress-error.ts';
import { createEgressGuard, type EgressGuard, type EgressGuardOptions } from '../../src/egress/egress-guard.ts';
import type { HostResolver, ResolvedAddress } from '../../src/egress/resolver.ts';
import { startCountingListener, type CountingListener } from '../fixtures/counting-listener.ts';

const SHORT = { firstByteMs: 2_000, totalMs: 5_000 };

/** A resolver from a fixed table that records every name it was asked for. */
function tableResolver(table: Record<string, readonly string[]>): HostResolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<readonly ResolvedAddress[]> => {
    asked.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) throw Object.assign(new Error(`no such name`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { asked });
}

function guardFor(t: Test, options: EgressGuardOptions): EgressGuard {
  const guard = createEgressGuard(options);
  t.teardown(() => guard.close());
  return guard;
}

async function listenerFor(t: Test, handler?: Parameters<typeof startCountingListener>[0]): Promise<CountingListener> {
  const listener = await startCountingListener(handler);
  t.teardown(() => listener.close());
  return listener;
}

/** The EgressError a promise rejected with (found through any wrapping), or a failed assertion. */
async function egressFailure(t: Test, attempt: Promise<unknown>, label: string): Promise<EgressError | undefined> {
  try {
    await attempt;
  } catch (err) {
    const found = findEgressError(err);
    if (found === undefined) t.fail(`${label}: rejected with something other than an EgressError (${String(err)})`);
    return found;
  }
  t.fail(`${label}: was not refused`);
  return undefined;
}

/** A token request through simple-oauth2 with the guard's agents, as code-exchange.ts will make it. */
function tokenRequest(guard: EgressGuard, tokenUrl: string): Promise<unknown> {
  const url = new URL(tokenUrl);
  const client = new AuthorizationCode({
    client: { id: 'client', secret: 'secret' },
    auth: { tokenHost: url.origin, tokenPath: url.pathname },
    http: { ...guard.wreck, redirects: 0, json: true, timeout: 5_000 },
  });
  return client.getToken({ code: 'code', redirect_uri: 'https://latchkey.example.com/cb' } as unknown as AuthorizationTokenConfig);
}

t.test('catalogue item 59: every spelling of a local address is refused before a socket opens, by every client', async (t) => {
  const listener = await listenerFor(t);
  const resolver = tableResolver({});
  const guard = guardFor(t, { insecureLoopback: false, resolve: resolver });
  const p = listener.port;
  const spellings = [
    `127.0.0.1:${p}`,
    `2130706433:${p}`,
    `0x7f.1:${p}`,
    `017700000001:${p}`,
    `127.1:${p}`,
    `0.0.0.0:${p}`,
    `0:${p}`,
    `[::1]:${p}`,
    `[::]:${p}`,
    `[::ffff:127.0.0.1]:${p}`,
    `[::ffff:7f00:1]:${p}`,
    `localhost:${p}`,
    `api.localhost:${p}`,
  ];
  for (const spelling of spellings) {
    for (const scheme of ['http', 'https']) {
      const url = `${scheme}://${spelling}/hook`;
      const viaGuard = await egressFailure(t, guard.request(url, { method: 'POST', body: '{}', timeouts: SHORT }), `${url} via request()`);
      t.equal(viaGuard?.code, 'host_not_allowed', `${url}: host_not_allowed`);
      t.match(viaGuard?.reason, /^(address_(loopback|unspecified)|name_local_only)$/, `${url}: ${viaGuard?.reason}`);
      // Callers that skip the URL check still meet the connector's.
      const viaUndici = await egressFailure(t, undiciRequest(url, { dispatcher: guard.dispatcher, method: 'POST', body: '{}' }), `${url} via undici`);
      t.equal(viaUndici?.reason, viaGuard?.reason, `${url}: undici with the dispatcher gives the same refusal`);
      const viaFetch = await egressFailure(t, fetch(url, { method: 'POST', body: '{}', dispatcher: guard.dispatcher }), `${url} via fetch`);
      t.equal(viaFetch?.reason, viaGuard?.reason, `${url}: fetch with the dispatcher gives the same refusal`);
      const viaWreck = await egressFailure(t, tokenRequest(guard, url), `${url} via simple-oauth2`);
      t.equal(viaWreck?.reason, viaGuard?.reason, `${url}: simple-oauth2 with the agents gives the same refusal`);
    }
  }
  // Node's http module does not parse `host` the WHATWG way; the agent's lookup does it instead.
  for (const host of ['0x7f.1', '2130706433', '127.1']) {
    const refused = await egressFailure(
      t,
      new Promise((resolve, reject) => {
        const req = http.request({ host, port: p, path: '/', agent: guard.wreck.agents.http }, resolve);
        req.on('error', reject);
        req.end();
      }),
      `raw host ${host}`,
    );
    t.equal(refused?.reason, 'address_loopback', `raw http.request host ${host}`);
  }
  t.equal(listener.connections(), 0, 'the local listener accepted no connection at all');
  t.same(resolver.asked, [], 'IP literals and localhost names never reach the resolver');
  if (!listener.ipv6) t.comment('no IPv6 loopback on this host: the [::1] spellings were refused, with no listener to count them');

  // Control: the same listener is reachable when loopback is allowed, so the zero above is real.
  const loose = guardFor(t, { insecureLoopback: true, resolve: resolver });
  const response = await loose.request(`http://0x7f.1:${p}/hook`, { method: 'POST', body: '{}', timeouts: SHORT });
  t.equal(response.statusCode, 200);
  t.equal((await readCappedBody(response.body, 100)).toString(), 'ok');
  t.equal(listener.connections(), 1, 'one connection once loopback is allowed');
});

t.test('catalogue item 59: names that resolve to non-public addresses are refused; nothing connects', async (t) => {
  const listener = await listenerFor(t);
  const resolver = tableResolver({
    'loopback.attacker.com': ['127.0.0.1'],
    'v6loopback.attacker.com': ['::1'],
    'mapped.attacker.com': ['::ffff:127.0.0.1'],
    'private.attacker.com': ['10.0.0.5'],
    'metadata.attacker.com': ['169.254.169.254'],
    'cgnat.attacker.com': ['100.64.1.1'],
    'ula.attacker.com': ['fd00::1'],
    'mixed.attacker.com': ['93.184.215.14', '127.0.0.1'],
    'nip-style.attacker.com': ['0.0.0.0'],
  });
  const guard = guardFor(t, { insecureLoopback: false, resolve: resolver });
  const expected: Record<string, string> = {
    'loopback.attacker.com': 'address_loopback',
    'v6loopback.attacker.com': 'address_loopback',
    'mapped.attacker.com': 'address_loopback',
    'private.attacker.com': 'address_private',
    'metadata.attacker.com': 'address_metadata',
    'cgnat.attacker.com': 'address_carrier_grade_nat',
    'ula.attacker.com': 'address_unique_local',
    'mixed.attacker.com': 'address_loopback',
    'nip-style.attacker.com': 'address_unspecified',
  };
  for (const [name, reason] of Object.entries(expected)) {
    const url = `https://${name}:${listener.port}/hook`;
    t.equal((await egressFailure(t, guard.request(url, { method: 'GET', timeouts: SHORT }), url))?.reason, reason, `${name} → ${reason}`);
    t.equal((await egressFailure(t, tokenRequest(guard, url), `${url} via simple-oauth2`))?.reason, reason, `${name} via simple-oauth2`);
    t.equal((await egressFailure(t, guard.vetUrl(url), `${url} vetted`))?.reason, reason, `${name} refused when vetted for registration`);
  }
  t.equal(listener.connections(), 0, 'no connection reached the listener');
  t.equal(resolver.asked.length, Object.keys(expected).length * 3, 'one lookup per attempt, no more');

  // Under LATCHKEY_INSECURE_LOOPBACK the loopback names connect, everything else is still refused,
  // and plain http still needs a loopback literal or localhost (not a name that resolves there).
  const loose = guardFor(t, { insecureLoopback: true, resolve: resolver });
  t.equal(
    (await egressFailure(t, loose.request(`https://private.attacker.com:${listener.port}/`, { method: 'GET', timeouts: SHORT }), 'private'))?.reason,
    'address_private',
  );
  t.equal(
    (await egressFailure(t, loose.request(`http://loopback.attacker.com:${listener.port}/`, { method: 'GET', timeouts: SHORT }), 'http name'))?.reason,
    'scheme_not_allowed',
  );
  t.equal(
    (await egressFailure(t, undiciRequest(`http://loopback.attacker.com:${listener.port}/`, { dispatcher: loose.dispatcher }), 'http name via undici'))?.reason,
    'scheme_not_allowed',
  );
  t.equal(listener.connections(), 0, 'still no connection');
  const unknown = await egressFailure(t, guard.request('https://nowhere.attacker.com/', { method: 'GET', timeouts: SHORT }), 'unknown name');
  t.same([unknown?.code, unknown?.reason], ['upstream_unreachable', 'ENOTFOUND'], 'a name that does not resolve is unreachable, not refused');
});

t.test('catalogue item 59: DNS rebinding — the answer that was checked is the answer the socket uses', async (t) => {
  const listener = await listenerFor(t);
  // Public on the first question, loopback on every later one: the classic rebinding server.
  let answers = 0;
  const asked: string[] = [];
  const rebinding: HostResolver = async (hostname) => {
    asked.push(hostname);
    answers++;
    return [{ address: answers === 1 ? '93.184.215.14' : '127.0.0.1', family: 4 }];
  };
  const guard = guardFor(t, { insecureLoopback: false, resolve: rebinding });
  const url = `https://rebind.attacker.com:${listener.port}/hook`;
  const vetted = await guard.vetUrl(url);
  t.equal(vetted.url.href, url, 'at registration the name looked public');
  const refused = await egressFailure(t, guard.request(url, { method: 'POST', body: '{}', timeouts: SHORT }), 'delivery after rebinding');
  t.same([refused?.code, refused?.reason], ['host_not_allowed', 'address_loopback'], 'the connection-time answer is judged, not the earlier one');
  const viaUndici = await egressFailure(t, undiciRequest(url, { dispatcher: guard.dispatcher }), 'undici after rebinding');
  t.equal(viaUndici?.reason, 'address_loopback');
  const viaWreck = await egressFailure(t, tokenRequest(guard, url), 'simple-oauth2 after rebinding');
  t.equal(viaWreck?.reason, 'address_loopback');
  t.equal(listener.connections(), 0, 'the private address was never connected to');
  t.equal(asked.length, 4, 'exactly one lookup per check: the request path has no second, unchecked lookup');
});

t.test('redirects are returned, never followed; a redirect to an internal host is refused even when a client follows it', async (t) => {
  const internal = await listenerFor(t);
  const redirector = await listenerFor(t, (req, res) => {
    const location = req.url === '/to-metadata' ? 'http://169.254.169.254/latest/meta-data/' : `http://127.0.0.1:${internal.port}/internal`;
    res.writeHead(302, { location }).end();
  });
  const guard = guardFor(t, { insecureLoopback: true, resolve: tableResolver({}) });
  for (const path of ['/to-loopback', '/to-metadata']) {
    const response = await guard.request(`http://127.0.0.1:${redirector.port}${path}`, { method: 'POST', body: '{}', timeouts: SHORT });
    t.equal(response.statusCode, 302, `${path}: the 302 comes back as it is`);
    await response.body.dump();
  }
  t.equal(internal.connections(), 0, 'the redirect target saw nothing');
  // fetch follows redirects by default; each hop still goes through the guarded connector.
  const followed = await egressFailure(t, fetch(`http://127.0.0.1:${redirector.port}/to-metadata`, { dispatcher: guard.dispatcher }), 'fetch follow');
  t.same([followed?.code, followed?.reason], ['host_not_allowed', 'address_metadata']);
});

t.test('deadlines: first byte, body idle and total, each reported as upstream_timeout with its phase', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  t.teardown(() => timers.forEach((timer) => clearInterval(timer)));
  const listener = await listenerFor(t, (req, res) => {
    if (req.url === '/hang') return; // never answers
    res.writeHead(200, { 'content-type': 'text/plain' });
    if (req.url === '/stall') {
      res.write('first chunk'); // then silence
      return;
    }
    const timer = setInterval(() => res.write('.'), 20); // /dribble: a byte every 20 ms, forever
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  const guard = guardFor(t, { insecureLoopback: true, resolve: tableResolver({}) });
  const base = `http://127.0.0.1:${listener.port}`;

  const hang = await egressFailure(t, guard.request(`${base}/hang`, { method: 'GET', timeouts: { firstByteMs: 150, totalMs: 10_000 } }), 'hang');
  t.same([hang?.code, hang?.reason], ['upstream_timeout', 'first_byte']);

  const stall = await guard.request(`${base}/stall`, { method: 'GET', timeouts: { firstByteMs: 2_000, bodyIdleMs: 150, totalMs: 10_000 } });
  const stalled = await egressFailure(t, readCappedBody(stall.body, 1_000_000, stall.deadline), 'stall');
  t.same([stalled?.code, stalled?.reason], ['upstream_timeout', 'body']);

  const dribble = await guard.request(`${base}/dribble`, { method: 'GET', timeouts: { firstByteMs: 2_000, bodyIdleMs: 2_000, totalMs: 300 } });
  const dribbled = await egressFailure(t, readCappedBody(dribble.body, 1_000_000, dribble.deadline), 'dribble');
  t.same([dribbled?.code, dribbled?.reason], ['upstream_timeout', 'total'], 'a body that never ends is cut by the total deadline');
});

t.test('response size caps: declared length, streamed length, and the exact boundary', async (t) => {
  const listener = await listenerFor(t, (req, res) => {
    const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size'));
    if (req.url?.startsWith('/declared')) {
      res.writeHead(200, { 'content-length': String(size) }).end('x'.repeat(size));
      return;
    }
    res.writeHead(200, { 'transfer-encoding': 'chunked' });
    for (let sent = 0; sent < size; sent += 100) res.write('y'.repeat(Math.min(100, size - sent)));
    res.end();
  });
  const guard = guardFor(t, { insecureLoopback: true, resolve: tableResolver({}) });
  const base = `http://127.0.0.1:${listener.port}`;

  const declared = await egressFailure(
    t,
    guard.request(`${base}/declared?size=2000`, { method: 'GET', timeouts: SHORT, maxResponseBytes: 1000 }),
    'declared over the cap',
  );
  t.same([declared?.code, declared?.reason], ['upstream_response_too_large', 'max_bytes']);

  const chunked = await guard.request(`${base}/chunked?size=5000`, { method: 'GET', timeouts: SHORT, maxResponseBytes: 1000 });
  const streamed = await egressFailure(t, readCappedBody(chunked.body, 1000, chunked.deadline), 'streamed over the cap');
  t.same([streamed?.code, streamed?.reason], ['upstream_response_too_large', 'max_bytes']);

  const exact = await guard.request(`${base}/chunked?size=1000`, { method: 'GET', timeouts: SHORT, maxResponseBytes: 1000 });
  t.equal((await readCappedBody(exact.body, 1000, exact.deadline)).length, 1000, 'exactly the cap is allowed');

  // The streaming form, for a caller that passes a body through (the proxy).
  const piped = await guard.request(`${base}/chunked?size=5000`, { method: 'GET', timeouts: SHORT });
  let passed = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      passed += chunk.length;
      callback();
    },
  });
  const cut = await egressFailure(t, pipeline(piped.body, createByteLimit(1000), sink), 'piped over the cap');
  t.same([cut?.code, cut?.reason], ['upstream_response_too_large', 'max_bytes']);
  t.ok(passed <= 1000, `no more than the cap passed through (${passed} bytes)`);
  const whole = await new Promise<number>((resolve, reject) => {
    let total = 0;
    Readable.from([Buffer.alloc(600), Buffer.alloc(400)])
      .pipe(createByteLimit(1000))
      .on('data', (chunk: Buffer) => (total += chunk.length))
      .on('end', () => resolve(total))
      .on('error', reject);
  });
  t.equal(whole, 1000, 'a stream of exactly the cap passes whole');
});

t.test('kept-alive pool: sequential requests to one origin reuse one connection', async (t) => {
  const listener = await listenerFor(t);
  // One connection per origin makes reuse observable (with more, undici may open a second
  // connection while the first is still being released).
  const guard = guardFor(t, { insecureLoopback: true, resolve: tableResolver({}), connectionsPerOrigin: 1 });
  for (let i = 0; i < 5; i++) {
    const response = await undiciRequest(`http://localhost:${listener.port}/n${i}`, { dispatcher: guard.dispatcher });
    t.equal(response.statusCode, 200);
    await response.body.text();
  }
  t.equal(listener.connections(), 1, 'five requests, one connection');
  t.same(listener.requests, ['GET /n0', 'GET /n1', 'GET /n2', 'GET /n3', 'GET /n4']);
});

t.test('TLS verifies the original hostname (SNI) on the checked address', async (t) => {
  const fixtures = new URL('../fixtures/tls/', import.meta.url);
  const seenServerNames: string[] = [];
  const server = createTlsServer({
    key: readFileSync(new URL('self-signed.key', fixtures)),
    cert: readFileSync(new URL('self-signed.crt', fixtures)),
    SNICallback: (servername, callback) => {
      seenServerNames.push(servername);
      callback(null, undefined);
    },
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  const resolver = tableResolver({ 'tls.egress-test.com': ['127.0.0.1'] });
  const guard = guardFor(t, { insecureLoopback: true, resolve: resolver });

  const viaUndici = await egressFailure(t, guard.request(`https://tls.egress-test.com:${port}/`, { method: 'GET', timeouts: SHORT }), 'self-signed via undici');
  t.same([viaUndici?.code, viaUndici?.reason], ['upstream_unreachable', 'DEPTH_ZERO_SELF_SIGNED_CERT'], 'certificate verification stays on');
  const viaWreck = await tokenRequest(guard, `https://tls.egress-test.com:${port}/token`).then(
    () => 'accepted',
    (err: unknown) => (err as { code?: string }).code,
  );
  t.equal(viaWreck, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'simple-oauth2 through the agents verifies the certificate too');
  t.same(seenServerNames, ['tls.egress-test.com', 'tls.egress-test.com'], 'the handshake named the original host, not the address');
  t.same(resolver.asked, ['tls.egress-test.com', 'tls.egress-test.com']);
});
