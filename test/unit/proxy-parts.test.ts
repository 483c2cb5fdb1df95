// The proxy's pure parts, without a server: url_64 in every client's spelling, where a target
// goes (relative on a templated api.base_url: a subdomain, a shop, Salesforce's instance_url from
// the token response), which headers cross in each direction, and the rate limiter's window.
import t from 'tap';
import { decodeUrl64 } from '../../src/proxy/url-64.ts';
import { resolveUpstreamUrl } from '../../src/proxy/upstream-url.ts';
import { forwardedHeaders, returnedHeaders } from '../../src/proxy/proxy-headers.ts';
import { ProjectRateLimiter } from '../../src/proxy/rate-limit.ts';
import { loadConfig } from '../../src/config.ts';

t.test('url_64: standard and URL-safe alphabets, padded or not, still percent-encoded after the router decoded it once', async (t) => {
  const target = 'https://api.acme.com/v2/items?q=ü~>&x=1';
  const standard = Buffer.from(target, 'utf8').toString('base64');
  const urlSafe = Buffer.from(target, 'utf8').toString('base64url');
  for (const segment of [standard, urlSafe, `${urlSafe}==`.slice(0, standard.length), encodeURIComponent(standard)]) {
    t.equal(decodeUrl64(segment), target, segment);
  }
  for (const bad of ['', '!!', 'a', '%E0%A4%A', Buffer.from([0xc3, 0x28]).toString('base64'), Buffer.from('a\nb').toString('base64'), 'QUJD===']) {
    t.equal(decodeUrl64(bad), undefined, `refused: ${JSON.stringify(bad)}`);
  }
});

t.test('targets: absolute as given, relative on the filled api.base_url, never above its path or on another host', async (t) => {
  const app = (base_url: string) => ({ api: { base_url, allowed_hosts: [], auth: { type: 'header' as const, headers: {} } } });
  const href = (base: string, values: Record<string, string>, target: string) => {
    const resolved = resolveUpstreamUrl(app(base), values, target);
    return resolved.ok ? `${resolved.url.href} (${resolved.callerPath})` : resolved.refusal;
  };
  t.equal(href('https://api.acme.com/v2', {}, '/users/me?a=1'), 'https://api.acme.com/v2/users/me?a=1 (/users/me)');
  t.equal(
    href('https://api.acme.com/v2/', {}, 'users/me'),
    'https://api.acme.com/v2/users/me (/users/me)',
    'a missing leading slash, a trailing one on the base',
  );
  t.equal(href('https://api.acme.com/v2?version=3', {}, '/x?a=1'), 'https://api.acme.com/v2/x?version=3&a=1 (/x)', 'the base query is kept');
  t.equal(
    href('https://{subdomain}.zendesk.com/api/v2', { subdomain: 'acme' }, '/tickets.json'),
    'https://acme.zendesk.com/api/v2/tickets.json (/tickets.json)',
  );
  t.equal(
    href('https://{shop}.myshopify.com/admin/api', { shop: 'my-shop' }, '/2024-01/shop.json'),
    'https://my-shop.myshopify.com/admin/api/2024-01/shop.json (/2024-01/shop.json)',
  );
  t.equal(
    href('{instance_url}/services/data', { instance_url: 'https://na1.my.salesforce.com' }, '/v59.0/sobjects'),
    'https://na1.my.salesforce.com/services/data/v59.0/sobjects (/v59.0/sobjects)',
  );
  t.equal(href('https://api.acme.com/v2', {}, '/../../admin'), 'https://api.acme.com/v2/admin (/admin)', 'dot segments stay below the base path');
  t.equal(href('https://api.acme.com/v2', {}, '/%2e%2e/admin'), 'https://api.acme.com/v2/admin (/admin)');
  t.equal(
    href('https://api.acme.com/v2', {}, 'https://other.com/x#frag'),
    'https://other.com/x (/x)',
    'an absolute url is taken as it is (its host is judged later), without fragment',
  );
  t.equal(href('https://api.acme.com/v2', {}, '//evil.com/x'), 'invalid_url');
  t.equal(href('https://api.acme.com/v2', {}, '/\\evil.com/x'), 'invalid_url');
  for (const value of ['evil.com#', 'evil.com/', 'a@b', '%2e', '..', '']) {
    t.equal(href('https://{subdomain}.zendesk.com/api', { subdomain: value }, '/x'), 'base_url_unfilled', `subdomain ${JSON.stringify(value)}`);
  }
  t.equal(href('{instance_url}/services', { instance_url: 'https://127.0.0.1' }, '/x'), 'base_url_unfilled', 'an origin value must name a public host');
  t.equal(href('{instance_url}/services', { instance_url: 'https://evil.com/#' }, '/x'), 'base_url_unfilled', 'and be an origin only');
  t.same(resolveUpstreamUrl({}, {}, '/x'), { ok: false, refusal: 'no_base_url' }, 'a relative url needs api.base_url');
});

t.test('headers: only x-pd-proxy-*, minus credentials, routing, framing and x-pd-*; answers minus cookies and hop-by-hop', async (t) => {
  t.same(
    forwardedHeaders({
      authorization: 'Bearer latchkey',
      'x-pd-environment': 'production',
      'content-type': 'application/json',
      accept: 'text/html',
      'x-pd-proxy-accept': 'application/json',
      'x-pd-proxy-x-custom': 'a',
      'x-pd-proxy-authorization': 'Bearer caller',
      'x-pd-proxy-proxy-authorization': 'Basic x',
      'x-pd-proxy-cookie': 'c=1',
      'x-pd-proxy-host': 'evil.com',
      'x-pd-proxy-content-length': '1',
      'x-pd-proxy-transfer-encoding': 'chunked',
      'x-pd-proxy-connection': 'close',
      'x-pd-proxy-te': 'trailers',
      'x-pd-proxy-upgrade': 'h2c',
      'x-pd-proxy-expect': '100-continue',
      'x-pd-proxy-x-pd-environment': 'development',
      'x-pd-proxy-': 'empty name',
    }),
    { accept: 'application/json', 'x-custom': 'a', 'content-type': 'application/json' },
  );
  t.same(
    returnedHeaders({
      'content-type': 'application/json',
      'set-cookie': ['a=1', 'b=2'],
      connection: 'keep-alive, x-hop',
      'x-hop': '1',
      'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked',
      'retry-after': '7',
      'x-request-id': 'upstream',
      'alt-svc': 'h3=":443"',
      location: 'https://elsewhere.example.com/',
    }),
    { 'content-type': 'application/json', 'retry-after': '7', location: 'https://elsewhere.example.com/' },
  );
});

t.test('rate limit: a fixed window per project from its first call, Retry-After to its end', async (t) => {
  let now = 1_000_000;
  const limiter = new ProjectRateLimiter({ limit: 2, windowSeconds: 10 }, () => now);
  t.same([limiter.take('a'), limiter.take('a')], [{ allowed: true }, { allowed: true }]);
  t.same(limiter.take('a'), { allowed: false, retryAfterSeconds: 10 });
  t.same(limiter.take('b'), { allowed: true }, 'projects are counted apart');
  now += 9_500;
  t.same(limiter.take('a'), { allowed: false, retryAfterSeconds: 1 });
  now += 500;
  t.same(limiter.take('a'), { allowed: true }, 'the next window');
});

t.test('settings: LATCHKEY_PROXY_RATE_LIMIT and LATCHKEY_PROXY_RATE_WINDOW_SECONDS, defaults and bad values', async (t) => {
  const defaults = loadConfig({});
  t.same([defaults.proxyRateLimit, defaults.proxyRateWindowSeconds], [1000, 300], "Pipedream's 1,000 per 5 minutes");
  const set = loadConfig({ LATCHKEY_PROXY_RATE_LIMIT: '50', LATCHKEY_PROXY_RATE_WINDOW_SECONDS: '60' });
  t.same([set.proxyRateLimit, set.proxyRateWindowSeconds], [50, 60]);
  for (const [variable, value] of [
    ['LATCHKEY_PROXY_RATE_LIMIT', '0'],
    ['LATCHKEY_PROXY_RATE_LIMIT', 'lots'],
    ['LATCHKEY_PROXY_RATE_WINDOW_SECONDS', '-5'],
    ['LATCHKEY_PROXY_RATE_WINDOW_SECONDS', '86401'],
  ] as const) {
    t.throws(() => loadConfig({ [variable]: value }), { name: 'ConfigError', variable }, `${variable}=${value} stops the start, naming the variable`);
  }
});
