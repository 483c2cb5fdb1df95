// Filling `{placeholder}` templates with values users typed: a value may never move a request to
// another host or path, add a header line or break out of a JSON string.
import t from 'tap';
import { TemplateError, fillTemplate, hostAllowed, originPlaceholder, templatePlaceholders } from '../../src/registry/templates.ts';

t.test('placeholders are identifiers (Pipedream names are mixed case); GraphQL braces are not', async (t) => {
  t.same(templatePlaceholders('https://{shop}.myshopify.com/{api_version}/x?{shop}'), ['shop', 'api_version', 'shop']);
  t.same(templatePlaceholders('https://api.twilio.com/2010-04-01/Accounts/{AccountSid}.json'), ['AccountSid']);
  t.same(templatePlaceholders('{"query":"{ viewer { id name } }"}'), []);
  t.same(templatePlaceholders('{}{1x}{_a}{a-b}{ a }'), []);
  t.same(originPlaceholder('{instance_url}/services/data'), 'instance_url');
  t.equal(originPlaceholder('https://{instance_url}/x'), undefined);
});

t.test('URL templates: host values are host characters only, path and query values are encoded', async (t) => {
  t.equal(fillTemplate('https://{subdomain}.zendesk.com/api/v2', { subdomain: 'acme' }), 'https://acme.zendesk.com/api/v2');
  t.equal(fillTemplate('https://{api_host}/v1', { api_host: 'api.eu.mailgun.net' }), 'https://api.eu.mailgun.net/v1');
  t.equal(
    fillTemplate('https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token?x={q}', { tenant: 'contoso.onmicrosoft.com', q: 'a b&c=d' }),
    'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token?x=a%20b%26c%3Dd',
  );
  t.equal(fillTemplate('https://api.example/{id}', { id: '../../admin' }), 'https://api.example/..%2F..%2Fadmin');

  for (const evil of ['evil.example/', 'evil.example#', 'evil.example?', 'user@evil.example', 'evil.example:444', 'a%2fb', '.evil', '-x', 'a..b', 'é']) {
    t.throws(() => fillTemplate('https://{subdomain}.zendesk.com/api', { subdomain: evil }), TemplateError, `host value ${JSON.stringify(evil)}`);
  }
  for (const segment of ['.', '..']) {
    t.throws(() => fillTemplate('https://login.example/{tenant}/token', { tenant: segment }), TemplateError, `path segment ${segment}`);
  }
  t.equal(fillTemplate('https://x.example/a?d={d}', { d: '..' }), 'https://x.example/a?d=..', 'dots are harmless in the query');
  t.throws(() => fillTemplate('https://{sub}.x.example', {}), {
    name: 'TemplateError',
    placeholder: 'sub',
    message: 'a value for {sub} is required',
    reason: 'missing',
  });
  t.throws(() => fillTemplate('https://{sub}.x.example', { sub: null }), { name: 'TemplateError', reason: 'missing' }, 'null is no value');
  t.throws(() => fillTemplate('https://{sub}.x.example', { sub: 'a/b' }), { name: 'TemplateError', reason: 'invalid' });
  t.throws(() => fillTemplate('https://{sub}.x.example', { sub: '' }), TemplateError);
  t.equal(fillTemplate('https://x.example/{a}', { a: '{b}', b: 'no' }), 'https://x.example/%7Bb%7D', 'values are not filled again');
});

t.test('a host a user names must be a public DNS name: no IP literal, no local-only name', async (t) => {
  for (const host of [
    '127.0.0.1',
    '169.254.169.254',
    '2130706433',
    '0177.0.0.1',
    'localhost',
    'intranet',
    'metadata.google.internal',
    'printer.local',
    'app.localhost',
  ]) {
    t.throws(
      () => fillTemplate('https://{api_host}/v1/me', { api_host: host }),
      { name: 'TemplateError', message: 'the value for {api_host} must name a public host' },
      host,
    );
  }
  t.equal(fillTemplate('https://{api_host}/v1/me', { api_host: 'posthog.example.com' }), 'https://posthog.example.com/v1/me');
  t.equal(fillTemplate('https://api.{site}/api/v1/validate', { site: 'datadoghq.eu' }), 'https://api.datadoghq.eu/api/v1/validate');
  t.throws(
    () => fillTemplate('https://{subdomain}.zendesk.com/api', { subdomain: '127.0.0.1' }),
    { name: 'TemplateError', message: 'the value for {subdomain} must name a public host' },
    'a value that spells an IP address is refused even under a fixed domain (wildcard DNS: 127.0.0.1.nip.io)',
  );
  t.equal(fillTemplate('http://127.0.0.1:8080/{id}', { id: 'x' }), 'http://127.0.0.1:8080/x', 'fixed hosts are the operator’s choice');
});

t.test('header, query, form and JSON templates', async (t) => {
  t.equal(fillTemplate('Bearer {api_key}', { api_key: 'sk_123' }, 'header'), 'Bearer sk_123');
  for (const evil of ['a\r\nX-Evil: 1', 'a\nb', 'a\0b', 'a\tb', 'a\x7fb', 'a\x1bb']) {
    for (const context of ['header', 'query'] as const) {
      t.throws(
        () => fillTemplate('Bearer {api_key}', { api_key: evil }, context),
        { name: 'TemplateError', placeholder: 'api_key', message: 'the value for {api_key} contains a control character', reason: 'invalid' },
        `${context} ${JSON.stringify(evil)}`,
      );
    }
  }
  t.equal(fillTemplate('{key}', { key: 'a&b=c d' }, 'query'), 'a&b=c d', 'query values stay raw: URLSearchParams encodes them');
  t.equal(fillTemplate('token={t}&user={u}', { t: 'a&b=c', u: 'ü' }, 'form'), 'token=a%26b%3Dc&user=%C3%BC');
  const body = fillTemplate('{"key":"{api_key}"}', { api_key: 'x","admin":true,"y":"\n' }, 'json');
  t.same(JSON.parse(body), { key: 'x","admin":true,"y":"\n' });
});

t.test('hostAllowed: exact hosts, *. subdomains, filled entries', async (t) => {
  const hosts = ['api.example.com', '*.zendesk.com', '{api_host}'];
  t.ok(hostAllowed(hosts, {}, 'https://api.example.com/v1'));
  t.ok(hostAllowed(hosts, {}, 'https://acme.zendesk.com/api'));
  t.notOk(hostAllowed(hosts, {}, 'https://zendesk.com/api'), 'the wildcard needs a subdomain');
  t.notOk(hostAllowed(hosts, {}, 'https://evilzendesk.com/api'));
  t.notOk(hostAllowed(hosts, {}, 'https://api.example.com.evil.example/'));
  t.ok(hostAllowed(hosts, { api_host: 'api.eu.example.net' }, 'https://api.eu.example.net/x'));
  t.notOk(hostAllowed(hosts, { api_host: 'a.example/b' }, 'https://a.example/x'), 'a filled entry that is not a host never matches');
  t.notOk(hostAllowed(hosts, {}, 'not a url'));
  t.notOk(hostAllowed(['127.0.0.1:8080'], {}, 'http://127.0.0.1:9090/'), 'ports must match');
  t.ok(hostAllowed(['127.0.0.1:8080'], {}, 'http://127.0.0.1:8080/'));
});

t.test('a leading placeholder holds a whole https origin with a public host, nothing more', async (t) => {
  const template = '{instance_url}/services/data/v62.0';
  t.equal(fillTemplate(template, { instance_url: 'https://acme.my.salesforce.com' }), 'https://acme.my.salesforce.com/services/data/v62.0');
  t.equal(
    fillTemplate(template, { instance_url: 'https://acme.my.salesforce.com/' }),
    'https://acme.my.salesforce.com/services/data/v62.0',
    'a trailing slash',
  );
  t.equal(fillTemplate('{base}/x', { base: 'https://Acme.Example.com:8443' }), 'https://acme.example.com:8443/x', 'normalised origin');
  for (const evil of [
    'http://acme.my.salesforce.com',
    'https://acme.my.salesforce.com/path',
    'https://acme.my.salesforce.com?x=1',
    'https://acme.my.salesforce.com#x',
    'https://user:pw@acme.my.salesforce.com',
    'https://evil.example@acme.my.salesforce.com',
    'https://127.0.0.1',
    'https://169.254.169.254',
    'https://localhost',
    'https://metadata.google.internal',
    'javascript:alert(1)',
    'acme.my.salesforce.com',
    'https://acme.my.salesforce.com\\@evil.example',
  ]) {
    t.throws(() => fillTemplate(template, { instance_url: evil }), { name: 'TemplateError', placeholder: 'instance_url' }, evil);
  }
});
