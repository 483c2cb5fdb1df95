// The registry entry's test_request: proves a credential works before we store it, and names
// the account. The credential goes on through api.auth (credential-injection.ts), the one
// injection the proxy uses too, and only to an allowed host. It runs with the user's values, so
// it is fenced: it goes through the egress guard (https only, public addresses only, the address
// that was checked is the one connected to), a deadline, no redirects (a 30x could forward the
// credential), a small response cap, and nothing of the answer is logged.
import { readCappedBody } from '../egress/body-limit.ts';
import { findEgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import type { EgressResponse } from '../egress/egress-request.ts';
import { formBodyParameters } from '../crypto/oauth1-signature.ts';
import { applyInjection, injectCredentials } from '../registry/credential-injection.ts';
import type { OAuth1Signing } from '../registry/oauth1-request-signing.ts';
import type { RegistryApp, RegistryTestRequest } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import { readPath, readString } from './json-path.ts';
import { providerDisplayText } from './provider-text.ts';

export const TEST_REQUEST_TIMEOUT_MS = 10_000;
export const TEST_RESPONSE_MAX_BYTES = 64 * 1024;

/** What the API answered, when it answered: the status, and the body (within the cap) for callers allowed to see it. */
export interface TestResponse {
  readonly status?: number;
  readonly body?: string;
}

export type TestRequestOutcome =
  | ({ readonly ok: true; readonly accountName: string | null; readonly accountUid: string | null } & TestResponse)
  /** `reason` is ours (status code, timeout…): safe to log, never shown with a value. */
  | ({ readonly ok: false; readonly reason: string } & TestResponse);

export interface TestRequestInput {
  /** The app: its test_request says what to call, its api.auth how the credential goes on it. */
  readonly app: Pick<RegistryApp, 'api' | 'fields'> & { readonly test_request: RegistryTestRequest };
  /** The user's fields, plus oauth_access_token (and kept token values) for OAuth apps. */
  readonly values: Readonly<Record<string, string>>;
  /** The only way out (tests may hand in one that records what would be sent). */
  readonly egress: Pick<EgressGuard, 'request'>;
  /** Also answer the status and the (capped) body: an account check reports them. */
  readonly keepResponse?: boolean;
  /** Overrides TEST_REQUEST_TIMEOUT_MS (tests of a hanging API). */
  readonly timeoutMs?: number;
  /** OAuth 1.0a apps: the consumer secret and signature method the request is signed with (api.auth type oauth1). */
  readonly oauth1?: Pick<OAuth1Signing, 'consumerSecret' | 'signatureMethod' | 'realm'>;
}

export async function runTestRequest(input: TestRequestInput): Promise<TestRequestOutcome> {
  let request: OutboundRequest;
  try {
    const built = buildRequest(input);
    if (typeof built === 'string') return { ok: false, reason: built };
    request = built;
  } catch (err) {
    return { ok: false, reason: `request could not be built (${err instanceof Error ? err.name : 'error'})` };
  }
  const timeoutMs = input.timeoutMs ?? TEST_REQUEST_TIMEOUT_MS;
  let response: EgressResponse;
  try {
    response = await input.egress.request(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      timeouts: { firstByteMs: timeoutMs, totalMs: timeoutMs },
      maxResponseBytes: TEST_RESPONSE_MAX_BYTES,
    });
  } catch (err) {
    return { ok: false, reason: failureReason(err) };
  }
  const body = await readCapped(response);
  const outcome = judge(input, response.statusCode, body);
  if (input.keepResponse !== true) return outcome;
  return { ...outcome, status: response.statusCode, ...(body === undefined ? {} : { body }) };
}

function judge(input: TestRequestInput, status: number, body: string | undefined): TestRequestOutcome {
  if (status < 200 || status > 299) return { ok: false, reason: `status ${status}` };
  if (body === undefined) return { ok: false, reason: 'response too large' };
  const { success_path: successPath, account_name_path: namePath, uid_path: uidPath } = input.app.test_request;
  if (successPath === undefined && namePath === undefined && uidPath === undefined) return { ok: true, accountName: null, accountUid: null };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return successPath === undefined ? { ok: true, accountName: null, accountUid: null } : { ok: false, reason: 'response is not JSON' };
  }
  if (successPath !== undefined) {
    const flag = readPath(json, successPath);
    if (flag === undefined || flag === null || flag === false || flag === 0 || flag === '' || flag === 'false') {
      return { ok: false, reason: 'success_path is not truthy' };
    }
  }
  return {
    ok: true,
    accountName: namePath === undefined ? null : providerDisplayText(readString(json, namePath)),
    accountUid: uidPath === undefined ? null : providerUid(readPath(json, uidPath)),
  };
}

/** A user id as the provider gave it: a string or an integer (GitHub's `id`), cleaned like any provider text. */
function providerUid(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return typeof value === 'string' ? providerDisplayText(value) : null;
}

interface OutboundRequest {
  readonly url: URL;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Why the request got no answer, as our own words (an egress refusal names its reason, never the URL). */
function failureReason(err: unknown): string {
  const egressError = findEgressError(err);
  if (egressError?.code === 'host_not_allowed') return `destination refused (${egressError.reason})`;
  if (egressError?.code === 'upstream_timeout') return 'timed out';
  if (egressError?.code === 'upstream_response_too_large') return 'response too large';
  return 'network error';
}

/** The request, or why the credential may not go on it (a refusal code, never a value). */
function buildRequest(input: TestRequestInput): OutboundRequest | string {
  const { app, values } = input;
  const definition = app.test_request;
  const url = new URL(fillTemplate(definition.url, values, 'url'));
  for (const [name, value] of Object.entries(definition.query)) url.searchParams.set(name, fillTemplate(value, values, 'query'));
  const headers = new Headers({ accept: 'application/json', 'user-agent': 'latchkey' });
  for (const [name, value] of Object.entries(definition.headers)) headers.set(name, fillTemplate(value, values, 'header'));
  let body: string | undefined;
  let form = false;
  if (definition.method === 'POST' && definition.body !== undefined) {
    // Inside a JSON body a value is JSON-escaped, so a quote in it cannot change the document.
    const json = /^\s*[[{]/.test(definition.body);
    body = fillTemplate(definition.body, values, json ? 'json' : 'form');
    if (!headers.has('content-type')) headers.set('content-type', json ? 'application/json' : 'application/x-www-form-urlencoded');
    form = headers.get('content-type')?.toLowerCase().startsWith('application/x-www-form-urlencoded') === true;
  }
  // The credential goes on last, so no test_request header or query value can replace it (an
  // OAuth 1.0a signature covers the method, the URL and a form body, all final by now).
  const signing =
    input.oauth1 === undefined
      ? undefined
      : { ...input.oauth1, method: definition.method, formParams: body !== undefined && form ? formBodyParameters(body) : [] };
  const injected = injectCredentials({ app, credentials: values, url, ...(signing === undefined ? {} : { signing }) });
  if (!injected.ok) return `credential injection refused (${injected.refusal.code})`;
  applyInjection(injected.injection, url, headers);
  return { url, method: definition.method, headers: Object.fromEntries(headers), ...(body === undefined ? {} : { body }) };
}

/** The body as text, or undefined past the cap or when it could not be read (the stream is destroyed, not drained). */
async function readCapped(response: EgressResponse): Promise<string | undefined> {
  try {
    return (await readCappedBody(response.body, TEST_RESPONSE_MAX_BYTES, response.deadline)).toString('utf8');
  } catch {
    return undefined;
  }
}
