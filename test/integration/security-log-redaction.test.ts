// Issue 10, smaller holes: a connect token was logged in full when the path did not match a route
// exactly (`//v1/…`, `/validatex`, `;x`, a wrong method, bad percent-encoding). Every token format
// latchkey mints is now redacted wherever it appears in a logged URL or message
// (src/http/log-redaction.ts, used by the logger's serializers, formatters and message hook).
// Catalogue §5 items 22 and 61.
import { Writable } from 'node:stream';
import t from 'tap';
import { TOKEN_PREFIXES, mintToken } from '../../src/crypto/tokens.ts';
import { createLogger } from '../../src/http/logger.ts';
import { generateSigningKey, SIGNING_KEY_PREFIX } from '../../src/webhooks/signing-key.ts';
import { buildTestApp, createProjectClient } from '../fixtures/app.ts';

/** The random part of a token: what must never reach a log line, whatever surrounds it. */
const bodyOf = (token: string): string => token.slice(token.indexOf('_') + 1);

t.test('tokens in URLs that match no route, or match one oddly, never reach the log', async (t) => {
  const testApp = await buildTestApp(t);
  const server = testApp.app.server;
  const own = await createProjectClient(testApp);
  const minted = await server.inject({
    method: 'POST',
    url: `/v1/connect/${own.projectId}/tokens`,
    headers: { authorization: `Bearer ${own.accessToken}` },
    payload: { external_user_id: 'alice' },
  });
  const ctok = minted.json<{ token: string }>().token;
  const state = mintToken(TOKEN_PREFIXES.oauthState);
  const whsec = generateSigningKey();
  const secrets = { ctok, accessToken: own.accessToken, clientSecret: own.clientSecret, state, whsec };

  const hex = (text: string): string => [...text].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
  const requests: [string, string][] = [
    ['GET', `/v1/connect/tokens/${ctok}/validate`],
    ['GET', `//v1/connect/tokens/${ctok}/validate`],
    ['GET', `/v1/connect/tokens/${ctok}/validatex`],
    ['GET', `/v1/connect/tokens/${ctok};x/validate`],
    ['POST', `/v1/connect/tokens/${ctok}/validate`],
    ['DELETE', `/v1/connect/tokens/${ctok}/validate`],
    ['GET', `/v1/connect/tokens/${ctok}%E0%A4%A/validate`],
    ['GET', `/v1/connect/tokens/ctok%5F${bodyOf(ctok)}/validate`],
    ['GET', `/v1/connect/tokens/${hex('ctok_')}${hex(bodyOf(ctok))}/validatex`],
    ['GET', `/nowhere/${own.accessToken}/${own.clientSecret}`],
    ['GET', `/connect/oauth/callbackx/${state}`],
    ['GET', `/v1/${encodeURIComponent(whsec)}`],
    ['GET', `/v1/connect/tokens/${ctok.slice(0, -3)}/validate`],
  ];
  for (const [method, url] of requests) {
    const res = await server.inject({ method: method as 'GET', url });
    t.ok(res.statusCode < 500, `${method} ${url.slice(0, 40)}…: ${res.statusCode}, not a 5xx`);
  }
  const logs = testApp.logs();
  t.match(logs, /ctok_\[redacted\]/, 'the log says a connect token was there');
  for (const [name, secret] of Object.entries(secrets)) {
    t.notOk(logs.includes(bodyOf(secret)), `no ${name} in the log`);
    t.notOk(logs.includes(encodeURIComponent(bodyOf(secret))), `no percent-encoded ${name} in the log`);
  }
  t.notOk(logs.includes(bodyOf(ctok).slice(0, 20)), 'not even a truncated connect token');
});

t.test('tokens in log messages, printf arguments, fields and error messages are redacted', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const logger = createLogger('info', sink);
  const tokens = Object.values(TOKEN_PREFIXES).map((prefix) => mintToken(prefix));
  const whsec = generateSigningKey();
  t.equal(whsec.slice(0, SIGNING_KEY_PREFIX.length), 'whsec_', 'the redaction knows the signing key prefix webhooks mint');
  for (const token of [...tokens, whsec]) {
    logger.info(`a message with ${token} in it`);
    logger.info('printf %s', token);
    logger.info({ url: `/x/${token}`, note: `see ${token}` }, 'fields');
    logger.error({ err: new Error(`boom for ${token}`) }, 'failed');
  }
  const logs = lines.join('');
  for (const token of [...tokens, whsec]) t.notOk(logs.includes(bodyOf(token)), `${token.slice(0, token.indexOf('_') + 1)}… is not in the log`);
  for (const prefix of [...Object.values(TOKEN_PREFIXES), 'whsec_']) t.match(logs, `${prefix}[redacted]`, `${prefix} is named as redacted`);
  t.match(logs, /"msg":"a message with ctok_\[redacted\] in it"/, 'the rest of the message is kept');
});
