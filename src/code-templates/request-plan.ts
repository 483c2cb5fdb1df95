// The app's test request as a plan a program can follow: every URL, header, query and body value
// as literal text and placeholders, each with the encoding fillTemplate would give it, and the
// credential put on the way credential-injection.ts puts it (api.auth, last, replacing a
// test_request header of the same name). The renderers (Node.js, Python, curl) turn the same plan
// into code, so the three programs send the request latchkey's own test request sends.
// Nothing here holds a value: placeholders name credential fields ($auth), read at run time.
import type { RegistryApiAuth, RegistryApp } from '../registry/registry.ts';
import { templateParts, type TemplatePart } from '../registry/templates.ts';

export type { TemplatePart } from '../registry/templates.ts';

export interface RequestPlan {
  readonly method: 'GET' | 'POST';
  /** Where the request goes, before `query` is added. */
  readonly url: readonly TemplatePart[];
  /** Whether `url` already has a query string (the next parameter joins with `&`). */
  readonly urlHasQuery: boolean;
  /** Set on the URL in order; values are raw, the program encodes them. */
  readonly query: readonly (readonly [string, readonly TemplatePart[]])[];
  /** Header name → value, the credential's last (a case-insensitive replace). */
  readonly headers: readonly (readonly [string, readonly TemplatePart[]])[];
  /** RFC 7617 basic auth: the program builds `Authorization: Basic base64(user:password)`. */
  readonly basic?: { readonly username: readonly TemplatePart[]; readonly password: readonly TemplatePart[] };
  readonly body?: readonly TemplatePart[];
  /** Whether the plan came from the app's test_request (else a GET of api.base_url). */
  readonly fromTestRequest: boolean;
}

/** The plan, or undefined when the app declares no request to make (no api, no test_request). */
export function requestPlanOf(app: RegistryApp): RequestPlan | undefined {
  const test = app.test_request;
  const auth = app.api?.auth;
  const urlTemplate = test?.url ?? app.api?.base_url;
  if (urlTemplate === undefined) return undefined;

  const headers = new Map<string, readonly [string, TemplatePart[]]>();
  const setHeader = (name: string, template: string): void => {
    headers.set(name.toLowerCase(), [name, templateParts(template, 'header')]);
  };
  setHeader('Accept', 'application/json');
  setHeader('User-Agent', 'latchkey');
  for (const [name, value] of Object.entries(test?.headers ?? {})) setHeader(name, value);
  const query = Object.entries(test?.query ?? {}).map(([name, value]) => [name, templateParts(value, 'query')] as const);

  let body: TemplatePart[] | undefined;
  if (test?.method === 'POST' && test.body !== undefined) {
    const json = /^\s*[[{]/.test(test.body);
    body = templateParts(test.body, json ? 'json' : 'form');
    if (!headers.has('content-type')) setHeader('Content-Type', json ? 'application/json' : 'application/x-www-form-urlencoded');
  }

  // The credential goes on last, so no test_request header or query value can replace it.
  const injected = injectionOf(auth);
  for (const [name, value] of injected.headers) setHeader(name, value);
  const queryByName = new Map(query.map((entry) => [entry[0], entry] as const));
  for (const [name, value] of injected.query) queryByName.set(name, [name, templateParts(value, 'query')]);
  if (injected.basic !== undefined) headers.delete('authorization');

  return {
    method: test?.method ?? 'GET',
    url: templateParts(urlTemplate, 'url'),
    urlHasQuery: urlTemplate.includes('?'),
    query: [...queryByName.values()],
    headers: [...headers.values()],
    ...(injected.basic === undefined
      ? {}
      : { basic: { username: templateParts(injected.basic.username, 'header'), password: templateParts(injected.basic.password, 'header') } }),
    ...(body === undefined ? {} : { body }),
    fromTestRequest: test !== undefined,
  };
}

interface InjectionTemplates {
  readonly headers: readonly (readonly [string, string])[];
  readonly query: readonly (readonly [string, string])[];
  readonly basic?: { readonly username: string; readonly password: string };
}

/** api.auth as templates (credential-injection.ts fills the same ones with values). */
function injectionOf(auth: RegistryApiAuth | undefined): InjectionTemplates {
  if (auth === undefined) return { headers: [], query: [] };
  const headers = Object.entries(auth.headers);
  switch (auth.type) {
    case 'header':
    case 'url':
      return { headers, query: [] };
    case 'query':
      return { headers, query: Object.entries(auth.params) };
    case 'basic':
      return { headers, query: [], basic: { username: auth.username, password: auth.password } };
    case 'oauth1':
      // Never planned: code-templates.routes.ts refuses OAuth 1.0a apps (each request needs a signature with the consumer secret).
      return { headers, query: [] };
  }
}

/** The credential fields a plan reads, in order of first use. */
export function planPlaceholders(plan: RequestPlan): string[] {
  const all = [
    ...plan.url,
    ...plan.query.flatMap(([, parts]) => parts),
    ...plan.headers.flatMap(([, parts]) => parts),
    ...(plan.basic === undefined ? [] : [...plan.basic.username, ...plan.basic.password]),
    ...(plan.body ?? []),
  ];
  return [...new Set(all.flatMap((part) => ('placeholder' in part ? [part.placeholder] : [])))];
}
