// Security catalogue 59 (egress to internal hosts, names that resolve there) and issue 10's
// smaller hole "host values typed by end users": a subdomain, shop or instance host typed into a
// Connect page fills a registry URL that then carries a credential or our client secret. Names
// that are private by construction — service discovery (`.svc`, `.consul`, `.nomad`), private-use
// suffixes (`.corp`, `.internal`, `.lan`, `.home.arpa`, Azure's `internal.cloudapp.net`), and
// wildcard-DNS services in every spelling (`127.0.0.1.nip.io`, `7f000001.nip.io`, `--1.sslip.io`,
// `lvh.me`) — are refused by the one name policy (src/egress/host-names.ts) that the templates
// and the egress guard share, before any lookup.
import t from 'tap';
import { createEgressGuard } from '../../src/egress/egress-guard.ts';
import { EgressError } from '../../src/egress/egress-error.ts';
import { isPublicHostName } from '../../src/egress/host-names.ts';
import { TemplateError, fillTemplate } from '../../src/registry/templates.ts';

const PRIVATE_NAMES = [
  // The issue's own examples.
  'kubernetes.default.svc',
  'vault.service.consul',
  'app.corp',
  '127.0.0.1.nip.io',
  // Well-known private suffixes.
  'kubernetes.default.svc.cluster.local',
  'metadata.google.internal',
  'printer.local',
  'nas.lan',
  'router.home.arpa',
  'api.service.nomad',
  'db.docker',
  'vm1.abcdef.internal.cloudapp.net',
  'fileserver.workgroup',
  // Wildcard DNS in its other spellings, and services that answer loopback for every name.
  '7f000001.nip.io',
  'app-7f000001.nip.io',
  '2130706433.nip.io',
  'nip.io',
  '127-0-0-1.sslip.io',
  '--1.sslip.io',
  'fe80--1.sslip.io',
  'x.xip.io',
  '10.0.0.1.traefik.me',
  'a.traefik.me',
  'anything.localtest.me',
  'lvh.me',
  'app.lvh.me',
  'x.vcap.me',
  'a.lacolhost.com',
  'x.localhost.direct',
  'y.local.gd',
];

t.test('59. user-typed host values: well-known private suffixes and wildcard-DNS names are not public', async (t) => {
  for (const host of PRIVATE_NAMES) t.equal(isPublicHostName(host), false, host);
  for (const host of ['acme.zendesk.com', 'gitlab.example.org', 'nip.io.example.com', 'corp.example.com', 'localtest.me.example.com']) {
    t.equal(isPublicHostName(host), true, `${host} is public`);
  }
});

t.test('59. a registry URL whose host an end user types: the private names are refused when the template is filled', async (t) => {
  for (const host of PRIVATE_NAMES) {
    t.throws(() => fillTemplate('https://{host}/oauth/token', { host }), TemplateError, host);
    t.throws(() => fillTemplate('{base}/oauth/token', { base: `https://${host}` }), TemplateError, `${host} as an origin value`);
  }
  t.equal(fillTemplate('https://{host}/oauth/token', { host: 'gitlab.example.org' }), 'https://gitlab.example.org/oauth/token');
});

t.test('59. the egress guard refuses the same names before any lookup, in production mode', async (t) => {
  const lookups: string[] = [];
  const egress = createEgressGuard({
    insecureLoopback: false,
    resolve: async (hostname) => {
      lookups.push(hostname);
      return [{ address: '93.184.216.34', family: 4 }];
    },
  });
  t.teardown(() => egress.close());
  for (const host of PRIVATE_NAMES) {
    await t.rejects(egress.vetUrl(`https://${host}/hook`), EgressError, host);
    t.throws(() => egress.checkUrl(`https://${host}/hook`), { code: 'host_not_allowed' }, host);
  }
  t.same(lookups, [], 'no name was asked of DNS');
});
