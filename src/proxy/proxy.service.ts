// One proxied request, as named steps:
//   1. the account: this end user's, in this project environment (else 404), with a token fresh
//      by the credential fetch's rules (accounts.service: the same read, refresh and lease);
//   2. the target: an absolute URL, or a relative one on the app's api.base_url (upstream-url.ts);
//   3. the credential: api.auth's injection (registry/credential-injection.ts, the one the test
//      request uses), which also refuses any host outside the app's allowed hosts for this
//      account and anything but https;
//   4. the call: through the egress guard (public addresses only, the address that was checked,
//      no redirects followed, deadlines, a size cap), on its kept-alive connection pool;
//   5. a 401 to an OAuth token: one refresh through the single-flight + lease path and one retry,
//      when the request body can be sent again; otherwise the 401 goes back as it came;
//   6. the answer: the upstream's status, headers (proxy-headers.ts) and body, streamed.
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { refreshFailureError } from '../accounts/account-errors.ts';
import { openAccountOfUser, reopenAfterRejection, type AccountScope, type AccountsDeps, type UsableAccount } from '../accounts/accounts.service.ts';
import { isOAuthApp } from '../accounts/token-schedule.ts';
import { readCappedBody } from '../egress/body-limit.ts';
import { EgressError, egressApiError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { EgressResponse, EgressTimeouts } from '../egress/egress-request.ts';
import { ApiError } from '../errors.ts';
import { applyInjection, injectCredentials, type InjectionRefusal } from '../registry/credential-injection.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import type { OAuth1Signing } from '../registry/oauth1-request-signing.ts';
import { oauth1SigningOf, type OAuthClientLookup } from '../oauth-apps/oauth1-consumer.ts';
import { formBodyParameters } from '../crypto/oauth1-signature.ts';
import type { AccountRow } from '../accounts/account.repository.ts';
import type { RegistryApp } from '../registry/registry.ts';
import { countingLimit, type BodyLimits, type ByteCounter, type RequestBody } from './proxy-bodies.ts';
import { forwardedHeaders, returnedHeaders } from './proxy-headers.ts';
import { resolveUpstreamUrl, type UpstreamTarget } from './upstream-url.ts';

export interface ProxySettings {
  readonly timeouts: EgressTimeouts;
  readonly bodies: BodyLimits;
}

const MiB = 1024 * 1024;

/** Pipedream's documented upstream deadline is 30 s (a 504 after it); a download may take longer once it flows. */
export const PROXY_DEFAULTS: ProxySettings = {
  timeouts: { firstByteMs: 30_000, bodyIdleMs: 30_000, totalMs: 120_000 },
  bodies: { maxRequestBytes: 25 * MiB, maxResponseBytes: 100 * MiB, replayableBytes: 256 * 1024 },
};

/** A 401's body is kept in memory while the token is refreshed, so it can be returned as it came. */
const REJECTION_BODY_BYTES = 64 * 1024;
/** Answers that declare at most this length are read, then sent in one write. */
const BUFFERED_ANSWER_BYTES = 64 * 1024;

const USER_AGENT = 'latchkey-proxy';

export interface ProxyDeps {
  readonly accounts: AccountsDeps;
  readonly egress: EgressGuard;
  readonly settings: ProxySettings;
  /** OAuth 1.0a apps: the consumer secret each request is signed with (the project's OAuth app). */
  readonly oauthClients?: OAuthClientLookup;
}

/** What the audit entry and the metrics say about a call; filled in as the steps get there. */
export interface ProxyTrace {
  app?: string;
  host?: string;
  path?: string;
  /** True once an upstream answered (its status is the response's). */
  upstream: boolean;
  retried: boolean;
  requestBytes: number;
  response?: ByteCounter;
}

export interface ProxyInput {
  readonly scope: AccountScope;
  readonly externalUserId: string;
  readonly accountId: string;
  readonly method: Dispatcher.HttpMethod;
  /** The decoded url_64. */
  readonly target: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: RequestBody;
  readonly trace: ProxyTrace;
}

export interface ProxyAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Readable | Buffer | null;
}

export async function proxyRequest(deps: ProxyDeps, input: ProxyInput): Promise<ProxyAnswer> {
  const account = usable(await openAccountOfUser(deps.accounts, input.scope, input.externalUserId, input.accountId));
  const signing = await oauth1Signing(deps, account.app, account.row, input);
  const first = await send(deps, account.app, account.values, input, signing);
  if (first.statusCode !== 401 || !isOAuthApp(account.app) || input.body.kind === 'streamed' || !smallEnough(first, REJECTION_BODY_BYTES)) {
    return await answer(deps, first, input.trace);
  }
  const rejection = await readBody(first, REJECTION_BODY_BYTES);
  const reopened = await reopenAfterRejection(deps.accounts, account.row);
  if (!reopened.ok) return { status: first.statusCode, headers: returnedHeaders(first.headers), body: rejection };
  input.trace.retried = true;
  return await answer(deps, await send(deps, account.app, reopened.values, input, signing), input.trace);
}

/**
 * An OAuth 1.0a app's signature covers the method, the URL and a form body (RFC 5849
 * §3.4.1.3.1), so such a body must be read before it is sent; one too large to buffer is refused.
 */
async function oauth1Signing(deps: ProxyDeps, app: RegistryApp, row: AccountRow, input: ProxyInput): Promise<OAuth1Signing | undefined> {
  if (app.auth_type !== 'oauth1') return undefined;
  const consumer = await oauth1SigningOf(deps.oauthClients, app, row);
  if (consumer === undefined)
    throw new ApiError('conflict', "the account's OAuth app is gone: its requests cannot be signed", { details: { reason: 'oauth_app_missing' } });
  // The content type the upstream gets (the caller's x-pd-proxy-content-type wins), so the signature covers what is sent.
  const contentType = forwardedHeaders(input.headers)['content-type'];
  const form = typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded');
  if (form && input.body.kind === 'streamed') {
    throw new ApiError('payload_too_large', 'a form body of an OAuth 1.0a app is signed, so it must declare a Content-Length within the replayable size');
  }
  const formParams = form && input.body.kind === 'buffered' ? formBodyParameters(input.body.bytes.toString('utf8')) : [];
  return { ...consumer, method: input.method, formParams };
}

/** Step 1's refusals: the same errors the credential fetch gives (409 reconnect, 503 retry). */
function usable(account: UsableAccount): Extract<UsableAccount, { ok: true }> & { app: RegistryApp } {
  if (!account.ok) throw refreshFailureError(account.failure);
  if (account.app === undefined) throw new ApiError('conflict', "the account's app is no longer in the registry");
  return account as Extract<UsableAccount, { ok: true }> & { app: RegistryApp };
}

/** Steps 2–4 with one set of credential values (the second time, the refreshed ones). */
async function send(
  deps: ProxyDeps,
  app: RegistryApp,
  values: Readonly<Record<string, string>>,
  input: ProxyInput,
  signing: OAuth1Signing | undefined,
): Promise<EgressResponse> {
  input.trace.app = app.slug;
  const target = resolveUpstreamUrl(app, currentCredentialValues(app, values), input.target);
  if (!target.ok) throw targetError(target);
  const url = target.url;
  input.trace.host = url.host;
  input.trace.path = target.callerPath;
  const injected = injectCredentials({ app, credentials: values, url, ...(signing === undefined ? {} : { signing }) });
  if (!injected.ok) throw injectionError(injected.refusal);
  const headers = forwardedHeaders(input.headers);
  headers['user-agent'] ??= USER_AGENT;
  // Last, so no forwarded header or query parameter can replace the credential.
  applyInjection(injected.injection, url, { set: (name, value) => (headers[name.toLowerCase()] = value) });
  const body = input.body;
  if (body.kind === 'streamed' && body.declaredLength !== undefined) headers['content-length'] = body.declaredLength;
  input.trace.requestBytes = body.kind === 'buffered' ? body.bytes.length : 0;
  try {
    const response = await deps.egress.request(url, {
      method: input.method,
      headers,
      body: body.kind === 'none' ? null : body.kind === 'buffered' ? body.bytes : body.stream,
      timeouts: deps.settings.timeouts,
      maxResponseBytes: deps.settings.bodies.maxResponseBytes,
    });
    input.trace.upstream = true;
    if (body.kind === 'streamed') input.trace.requestBytes = body.counter.bytes;
    return response;
  } catch (err) {
    // A streamed body that outgrew the cap fails the upstream call with the cap's own error (413).
    const ownError = apiErrorIn(err);
    if (ownError !== undefined) throw ownError;
    if (err instanceof EgressError) throw egressApiError(err);
    throw err;
  }
}

function apiErrorIn(err: unknown): ApiError | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    if (current instanceof ApiError) return current;
  }
  return undefined;
}

/**
 * Step 6: the upstream's answer, its body streamed through the size cap (and counted). A body
 * that declares a small length is read first and sent in one write: the same bytes, without a
 * stream per answer (the typical JSON answer; the benchmark's case).
 */
async function answer(deps: ProxyDeps, response: EgressResponse, trace: ProxyTrace): Promise<ProxyAnswer> {
  const headers = returnedHeaders(response.headers);
  // No body may follow these (RFC 9110 §15.3.5, §15.4.5); the connection goes back to the pool.
  if (response.statusCode === 204 || response.statusCode === 304) {
    response.body.dump().catch(() => {});
    return { status: response.statusCode, headers, body: null };
  }
  if (response.headers['content-length'] !== undefined && smallEnough(response, BUFFERED_ANSWER_BYTES)) {
    const bytes = await readBody(response, BUFFERED_ANSWER_BYTES);
    trace.response = { bytes: bytes.length };
    return { status: response.statusCode, headers, body: bytes };
  }
  const limited = countingLimit(deps.settings.bodies.maxResponseBytes);
  trace.response = limited;
  // An upstream that fails mid-body (deadline, reset, cap) ends the answer where it is.
  pipeline(response.body, limited, () => {});
  return { status: response.statusCode, headers, body: limited };
}

function smallEnough(response: EgressResponse, maxBytes: number): boolean {
  const declared = response.headers['content-length'];
  return typeof declared !== 'string' || (/^\d{1,16}$/.test(declared) && Number(declared) <= maxBytes);
}

async function readBody(response: EgressResponse, maxBytes: number): Promise<Buffer> {
  try {
    return await readCappedBody(response.body, maxBytes, response.deadline);
  } catch (err) {
    if (err instanceof EgressError) throw egressApiError(err);
    throw err;
  }
}

function targetError(target: Extract<UpstreamTarget, { ok: false }>): ApiError {
  switch (target.refusal) {
    case 'invalid_url':
      return new ApiError('validation_failed', 'url_64 does not name a URL or a path the proxy can call');
    case 'no_base_url':
      return new ApiError('validation_failed', 'a relative url needs an app with api.base_url; send an absolute url');
    case 'base_url_unfilled':
      return new ApiError('host_not_allowed', "the account's values do not fill the app's base url with a public host", {
        details: { reason: 'base_url_unfilled', ...(target.placeholder === undefined ? {} : { placeholder: target.placeholder }) },
      });
  }
}

function injectionError(refusal: InjectionRefusal): ApiError {
  switch (refusal.code) {
    case 'no_api':
      return new ApiError('host_not_allowed', 'the app declares no api, so its credential goes to no host', { details: { reason: 'no_api' } });
    case 'insecure_url':
      return new ApiError('host_not_allowed', 'the proxy sends credentials over https only', { details: { reason: 'scheme_not_allowed' } });
    case 'host_not_allowed':
      return new ApiError('host_not_allowed', "the url's host is not among the app's allowed hosts for this account", {
        details: { reason: 'not_in_allowed_hosts' },
      });
    case 'signing_unavailable':
      return new ApiError('conflict', 'the request cannot be signed as the app says', { details: { reason: 'signing_unavailable' } });
    case 'credential_missing':
    case 'credential_invalid':
      return new ApiError(
        'conflict',
        refusal.code === 'credential_missing' ? 'the account has no value the app needs to authenticate' : 'an account value cannot be sent as the app says',
        { details: { reason: refusal.code, ...(refusal.placeholder === undefined ? {} : { placeholder: refusal.placeholder }) } },
      );
  }
}
