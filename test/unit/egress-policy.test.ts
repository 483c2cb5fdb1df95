// The egress guard's decisions on their own (no sockets): which addresses, names and URLs
// latchkey refuses to send to, and the exact reason it gives. Security catalogue §5, item 59
// (egress to internal hosts); the socket-level proof is in egress-connections.test.ts.
import t from 'tap';
import { judgeAddress } from '../../src/egress/address-policy.ts';
import { checkDestination } from '../../src/egress/destination-policy.ts';
import { EgressError, egressApiError, refusal } from '../../src/egress/egress-error.ts';
import { classifyEgressFailure } from '../../src/egress/failures.ts';
import { hostNameRefusal, isPublicHostName } from '../../src/egress/host-names.ts';

const strict = { insecureLoopback: false };
const loopbackAllowed = { insecureLoopback: true };

/** The refusal reason checkDestination throws, or 'allowed'. */
function verdict(url: string, policy = strict): string {
  try {
    checkDestination(url, policy);
    return 'allowed';
  } catch (err) {
    if (!(err instanceof EgressError)) throw err;
    t.equal(err.code, 'host_not_allowed', `${url}: a refusal is host_not_allowed`);
    return err.reason;
  }
}

t.test('catalogue item 59: every notation of loopback is read the WHATWG way and refused', async (t) => {
  const loopbackSpellings = [
    'https://127.0.0.1/',
    'https://2130706433/',
    'https://0x7f.1/',
    'https://0x7f000001/',
    'https://017700000001/',
    'https://0177.0.0.1/',
    'https://127.1/',
    'https://127.0.1/',
    'https://127.000.000.001/',
    'https://127.255.255.254/',
    'https://127.0.0.1./',
    'https://[::1]/',
    'https://[0:0:0:0:0:0:0:1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:7f00:1]/',
    'https://[::ffff:0:127.0.0.1]/',
    'https://[64:ff9b::127.0.0.1]/',
  ];
  for (const url of loopbackSpellings) t.equal(verdict(url), 'address_loopback', url);
  t.equal(verdict('https://0.0.0.0/'), 'address_unspecified', '0.0.0.0 reaches the local host on Linux');
  t.equal(verdict('https://0/'), 'address_unspecified');
  t.equal(verdict('https://[::]/'), 'address_unspecified');
});

t.test('catalogue item 59: metadata, private, link-local, CGNAT and special-purpose literals are refused', async (t) => {
  const expected: Record<string, string> = {
    'https://169.254.169.254/latest/meta-data/': 'address_metadata',
    'https://2852039166/': 'address_metadata',
    'https://0xa9.0xfe.0xa9.0xfe/': 'address_metadata',
    'https://[::ffff:169.254.169.254]/': 'address_metadata',
    'https://[fd00:ec2::254]/': 'address_metadata',
    'https://100.100.100.200/': 'address_metadata',
    'https://169.254.170.2/v2/credentials': 'address_metadata',
    'https://169.254.1.1/': 'address_link_local',
    'https://[fe80::1]/': 'address_link_local',
    'https://10.0.0.1/': 'address_private',
    'https://172.16.5.4/': 'address_private',
    'https://192.168.1.1/': 'address_private',
    'https://[::ffff:10.0.0.1]/': 'address_private',
    'https://[64:ff9b::a00:1]/': 'address_private',
    'https://100.64.0.1/': 'address_carrier_grade_nat',
    'https://224.0.0.1/': 'address_multicast',
    'https://[ff02::1]/': 'address_multicast',
    'https://255.255.255.255/': 'address_broadcast',
    'https://192.0.2.10/': 'address_reserved',
    'https://198.51.100.1/': 'address_reserved',
    'https://203.0.113.9/': 'address_reserved',
    'https://198.18.0.1/': 'address_reserved',
    'https://240.0.0.1/': 'address_reserved',
    'https://[2001:db8::1]/': 'address_reserved',
    'https://[fc00::1]/': 'address_unique_local',
    'https://[fd12:3456::1]/': 'address_unique_local',
    'https://[fec0::1]/': 'address_site_local',
    'https://[2002:7f00:1::1]/': 'address_tunnel',
    'https://[2002:a9fe:a9fe::1]/': 'address_tunnel',
    'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/': 'address_tunnel',
    'https://[::7f00:1]/': 'address_not_global_unicast',
    'https://[64:ff9b:1::1]/': 'address_reserved',
  };
  for (const [url, reason] of Object.entries(expected)) t.equal(verdict(url), reason, url);
});

t.test('public addresses and names pass; IPv4 inside NAT64 and mapped forms is judged by itself', async (t) => {
  for (const url of [
    'https://8.8.8.8/',
    'https://[2606:4700:4700::1111]/',
    'https://[::ffff:8.8.8.8]/',
    'https://[64:ff9b::8.8.8.8]/',
    'https://api.github.com/user',
    'https://hooks.example.com:8443/x?y=1',
    'https://xn--bcher-kva.de/',
    'https://BÜCHER.de/',
  ]) {
    t.equal(verdict(url), 'allowed', url);
  }
  t.same(judgeAddress('100.63.255.255', { allowLoopback: false }), { allowed: true, loopback: false }, 'just below CGNAT');
  t.same(judgeAddress('100.128.0.0', { allowLoopback: false }), { allowed: true, loopback: false }, 'just above CGNAT');
  t.same(judgeAddress('172.32.0.1', { allowLoopback: false }), { allowed: true, loopback: false }, 'just above 172.16/12');
  t.same(judgeAddress('not-an-ip', { allowLoopback: false }), { allowed: false, reason: 'reserved' }, 'junk is refused, not guessed at');
});

t.test('catalogue item 59: names private by construction are refused before any lookup', async (t) => {
  const expected: Record<string, string> = {
    'https://localhost/': 'name_local_only',
    'https://LOCALHOST./': 'name_local_only',
    'https://api.localhost/': 'name_local_only',
    'https://metadata.google.internal/computeMetadata/v1/': 'name_local_only',
    'https://metadata.google.internal./': 'name_local_only',
    'https://kubernetes.default.svc/': 'name_local_only',
    'https://kubernetes.default.svc.cluster.local/': 'name_local_only',
    'https://vault.service.consul/': 'name_local_only',
    'https://app.corp/': 'name_local_only',
    'https://printer.local/': 'name_local_only',
    'https://router.lan/': 'name_local_only',
    'https://nas.home.arpa/': 'name_local_only',
    'https://1.0.0.127.in-addr.arpa/': 'name_local_only',
    'https://db.intranet/': 'name_local_only',
    'https://box.localdomain/': 'name_local_only',
    'https://site.test/': 'name_local_only',
    'https://x.invalid/': 'name_local_only',
    'https://www.example/': 'name_local_only',
    'https://metadata/': 'name_single_label',
    'https://vault/': 'name_single_label',
    'https://127.0.0.1.nip.io/': 'name_embeds_ip',
    'https://app.10.0.0.1.sslip.io/': 'name_embeds_ip',
    'https://169-254-169-254.sslip.io/': 'name_embeds_ip',
  };
  for (const [url, reason] of Object.entries(expected)) t.equal(verdict(url), reason, url);
  t.equal(hostNameRefusal('example.com'), undefined);
  t.equal(hostNameRefusal('internal.example.com'), undefined, 'a label named like a suffix is not the suffix');
  t.equal(hostNameRefusal('localtest.me'), 'name_embeds_ip', 'a wildcard-DNS service: every name under it answers with loopback');
  t.equal(hostNameRefusal('notlocaltest.me'), undefined, 'a zone is matched by whole labels');
});

t.test('https only; http only to loopback and only with LATCHKEY_INSECURE_LOOPBACK; no userinfo', async (t) => {
  t.equal(verdict('http://api.github.com/'), 'scheme_not_allowed');
  t.equal(verdict('http://api.github.com/', loopbackAllowed), 'scheme_not_allowed', 'insecure loopback does not open http to the internet');
  t.equal(verdict('http://8.8.8.8/', loopbackAllowed), 'scheme_not_allowed');
  t.equal(verdict('http://127.0.0.1:8080/hook'), 'address_loopback');
  t.equal(verdict('http://localhost:8080/hook'), 'name_local_only');
  t.equal(verdict('http://127.0.0.1:8080/hook', loopbackAllowed), 'allowed');
  t.equal(verdict('http://0x7f.1:8080/hook', loopbackAllowed), 'allowed', 'the same address in another spelling');
  t.equal(verdict('http://[::1]:8080/hook', loopbackAllowed), 'allowed');
  t.equal(verdict('http://localhost:8080/hook', loopbackAllowed), 'allowed');
  t.equal(verdict('https://127.0.0.1:8443/', loopbackAllowed), 'allowed');
  t.equal(verdict('http://10.0.0.1/', loopbackAllowed), 'address_private', 'insecure loopback opens loopback only');
  t.equal(verdict('https://169.254.169.254/', loopbackAllowed), 'address_metadata');
  t.equal(verdict('https://metadata.google.internal/', loopbackAllowed), 'name_local_only');
  for (const url of ['ftp://api.github.com/', 'file:///etc/passwd', 'gopher://api.github.com/', 'ws://api.github.com/', 'data:text/plain,x']) {
    t.equal(verdict(url), 'scheme_not_allowed', url);
  }
  t.equal(verdict('https://user:pass@api.github.com/'), 'userinfo_not_allowed');
  t.equal(verdict('https://api.github.com@127.0.0.1/'), 'userinfo_not_allowed', 'userinfo hiding the real host');
  t.equal(verdict('not a url'), 'invalid_url');
  t.equal(verdict('https://exa mple.com/'), 'invalid_url');
});

t.test('user-typed host values: public DNS names only, never an IP literal of any kind', async (t) => {
  for (const host of ['acme.zendesk.com', 'shop-1.myshopify.com', 'contoso.onmicrosoft.com']) t.equal(isPublicHostName(host), true, host);
  for (const host of [
    '8.8.8.8',
    '127.0.0.1',
    '[::1]',
    '::1',
    'localhost',
    'vault',
    'kubernetes.default.svc',
    'vault.service.consul',
    'app.corp',
    '127.0.0.1.nip.io',
  ]) {
    t.equal(isPublicHostName(host), false, host);
  }
});

t.test('failures map to one catalogue: 403 refused, 502 unreachable or too large, 504 timeout', async (t) => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  const cases: [unknown, string, string, number][] = [
    [refusal('address_loopback'), 'host_not_allowed', 'address_loopback', 403],
    [new TypeError('fetch failed', { cause: refusal('name_local_only') }), 'host_not_allowed', 'name_local_only', 403],
    [withCode('ECONNREFUSED'), 'upstream_unreachable', 'ECONNREFUSED', 502],
    [new TypeError('fetch failed', { cause: withCode('ECONNRESET') }), 'upstream_unreachable', 'ECONNRESET', 502],
    [withCode('UND_ERR_CONNECT_TIMEOUT'), 'upstream_timeout', 'connect', 504],
    [withCode('UND_ERR_HEADERS_TIMEOUT'), 'upstream_timeout', 'first_byte', 504],
    [withCode('UND_ERR_BODY_TIMEOUT'), 'upstream_timeout', 'body', 504],
    [withCode('UND_ERR_RES_EXCEEDED_MAX_SIZE'), 'upstream_response_too_large', 'max_bytes', 502],
    [new Error('something odd'), 'upstream_unreachable', 'request_failed', 502],
  ];
  for (const [thrown, code, reason, status] of cases) {
    const classified = classifyEgressFailure(thrown);
    t.same([classified.code, classified.reason], [code, reason], `${code}/${reason}`);
    const api = egressApiError(classified);
    t.same([api.status, api.code, api.details], [status, code, { reason }]);
    t.notMatch(api.message, /127\.0\.0\.1|http/, 'the client message carries no destination');
  }
  const deadline = AbortSignal.abort();
  t.same(classifyEgressFailure(new DOMException('aborted', 'AbortError'), deadline).reason, 'total', 'the request deadline wins over what undici reports');
});
