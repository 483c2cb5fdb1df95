// Puts an account's credential on a request to the app's API, as the entry's api.auth says:
// the one mechanism behind the test request and the Connect proxy. The checks run in order,
// and each failure is a refusal with a stable code, never a half-built request:
//   1. the app has an API declaration;
//   2. the request goes over https (http only to a loopback host, which only a test registry
//      loaded with LATCHKEY_INSECURE_LOOPBACK can allow) and to one of its allowed hosts, filled
//      from the account's values;
//   3. every placeholder the declaration uses has a value;
//   4. a value that lands in a header has no control character (no CR/LF header injection),
//      and a basic-auth user id no colon (RFC 7617 §2); query values are encoded by the URL API.
import { currentCredentialValues } from './credential-values.ts';
import { oauth1Authorization, type OAuth1Signing } from './oauth1-request-signing.ts';
import type { RegistryApiAuth, RegistryApp } from './registry.ts';
import { TemplateError, fillTemplate, hostAllowed, isLoopbackHost, templatePlaceholders, type TemplateContext, type TemplateValues } from './templates.ts';

export interface CredentialInjection {
  /** Headers to set, replacing any of the same name (names as the registry writes them). */
  readonly headers: Readonly<Record<string, string>>;
  /** Query parameters to set on the URL, replacing any of the same name; values are raw, not encoded. */
  readonly query: readonly (readonly [string, string])[];
}

export type InjectionRefusalCode =
  /** The entry declares no API, so no host may receive its credential. */
  | 'no_api'
  /** Not https: the credential would travel in clear text. */
  | 'insecure_url'
  /** The URL's host is not among api.allowed_hosts for this account. */
  | 'host_not_allowed'
  /** The account has no value for a placeholder the declaration uses. */
  | 'credential_missing'
  /** A value cannot go where the declaration puts it (control character, colon in a user id). */
  | 'credential_invalid'
  /** An OAuth 1.0a app's request was handed in without what its signature needs (the consumer secret, a readable body). */
  | 'signing_unavailable';

export interface InjectionRefusal {
  readonly code: InjectionRefusalCode;
  /** The placeholder at fault, for credential_missing / credential_invalid (a name, never a value). */
  readonly placeholder?: string;
}

export type InjectionOutcome = { readonly ok: true; readonly injection: CredentialInjection } | { readonly ok: false; readonly refusal: InjectionRefusal };

export interface InjectionRequest {
  readonly app: Pick<RegistryApp, 'api' | 'fields'>;
  /** The account's values as stored (older field names are read under the current ones). */
  readonly credentials: TemplateValues;
  /** Where the request goes (already built from api.base_url or test_request.url). */
  readonly url: URL;
  /** api.auth type oauth1 only: the request's method and form body and the consumer secret (oauth1-request-signing.ts). */
  readonly signing?: OAuth1Signing;
}

function secureTransport(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

const NO_INJECTION: CredentialInjection = Object.freeze({ headers: Object.freeze({}), query: Object.freeze([]) });

export function injectCredentials(request: InjectionRequest): InjectionOutcome {
  const api = request.app.api;
  if (api === undefined) return refuse('no_api');
  if (!secureTransport(request.url)) return refuse('insecure_url');
  const values = currentCredentialValues(request.app, withoutUndefined(request.credentials));
  if (!hostAllowed(api.allowed_hosts, values, request.url.href)) return refuse('host_not_allowed');
  try {
    return { ok: true, injection: buildInjection(api.auth, values, request.url, request.signing) };
  } catch (err) {
    if (!(err instanceof InjectionError)) throw err;
    return refuse(err.code, err.placeholder);
  }
}

/**
 * Sets the injection on a URL and headers about to be sent (the test request, the proxy). Names
 * are case-insensitive: `headers.set` must replace a header of the same name in any case.
 */
export function applyInjection(injection: CredentialInjection, url: URL, headers: Pick<Headers, 'set'>): void {
  for (const [name, value] of Object.entries(injection.headers)) headers.set(name, value);
  for (const [name, value] of injection.query) url.searchParams.set(name, value);
}

function buildInjection(auth: RegistryApiAuth | undefined, values: TemplateValues, url: URL, signing: OAuth1Signing | undefined): CredentialInjection {
  // Only auth_type none apps have no declaration: there is nothing to put on the request.
  if (auth === undefined) return NO_INJECTION;
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(auth.headers)) headers[name] = fill(template, values, 'header');
  switch (auth.type) {
    case 'header':
    case 'url':
      return { headers, query: [] };
    case 'query':
      return { headers, query: Object.entries(auth.params).map(([name, template]) => [name, fill(template, values, 'query')] as const) };
    case 'basic':
      headers['Authorization'] = basicAuthorization(auth.username, auth.password, values);
      return { headers, query: [] };
    case 'oauth1': {
      // Signed last and over the URL as it will be sent: nothing may change the request afterwards.
      if (signing === undefined) throw new InjectionError('signing_unavailable', undefined);
      const signed = oauth1Authorization(values, url, signing);
      if (!signed.ok) throw new InjectionError(signed.code, signed.placeholder);
      headers['Authorization'] = signed.authorization;
      return { headers, query: [] };
    }
  }
}

/** RFC 7617: `Basic base64(user-id ":" password)`, UTF-8 (§2.1 charset). */
function basicAuthorization(usernameTemplate: string, passwordTemplate: string, values: TemplateValues): string {
  const username = fill(usernameTemplate, values, 'header');
  if (username.includes(':')) throw new InjectionError('credential_invalid', firstPlaceholder(usernameTemplate));
  const password = fill(passwordTemplate, values, 'header');
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function fill(template: string, values: TemplateValues, context: TemplateContext): string {
  try {
    return fillTemplate(template, values, context);
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    throw new InjectionError(err.reason === 'missing' ? 'credential_missing' : 'credential_invalid', err.placeholder);
  }
}

class InjectionError extends Error {
  constructor(
    readonly code: InjectionRefusalCode,
    readonly placeholder: string | undefined,
  ) {
    super(code);
  }
}

function refuse(code: InjectionRefusalCode, placeholder?: string): InjectionOutcome {
  return { ok: false, refusal: placeholder === undefined || placeholder === '' ? { code } : { code, placeholder } };
}

function firstPlaceholder(template: string): string | undefined {
  return templatePlaceholders(template)[0];
}

function withoutUndefined(values: TemplateValues): Record<string, string | null> {
  const defined: Record<string, string | null> = {};
  for (const [name, value] of Object.entries(values)) if (value !== undefined) defined[name] = value;
  return defined;
}
