// The checks of the API side of an entry: where API calls go (api.base_url, allowed_hosts), how
// the credential is put on them (api.auth, the one injection the test request and the proxy
// share), and the test request. A credential may only travel through api.auth and only to an
// allowed host; both are checked here once, before any account exists.
import { ProblemList, PLACEHOLDER_STAND_IN, escapePointer, hostPatternProblem, standInUrl } from './check-helpers.ts';
import type { ApiAuthDefinition, AppDefinition, FieldDefinition } from './schema.ts';
import { hasControlCharacter, hostAllowed, originPlaceholder, templateHost, templatePlaceholders } from './templates.ts';

/** The names a template may use, by where they come from. */
export interface CredentialNames {
  /** Declared fields (what the user enters). */
  readonly fields: ReadonlySet<string>;
  /** Values kept from the token response or the callback (oauth apps). */
  readonly kept: ReadonlySet<string>;
  /** Secret fields and the OAuth access token: they travel through api.auth only. */
  readonly secrets: ReadonlySet<string>;
  readonly all: ReadonlySet<string>;
}

/**
 * Headers a credential declaration may not set: they frame the message (RFC 9110 §7.6.1
 * connection options, RFC 9112 framing) or route it, and belong to the HTTP client.
 */
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection']);

/** Which keys each auth type takes besides `type`. */
const AUTH_KEYS: Record<ApiAuthDefinition['type'], readonly (keyof ApiAuthDefinition)[]> = {
  header: ['headers'],
  query: ['params', 'headers'],
  basic: ['username', 'password', 'headers'],
  url: ['headers'],
  oauth1: ['headers'],
};

/** More combinations of choices than this are checked by their first choices only. */
const MAX_CHOICE_COMBINATIONS = 64;

export function checkApi(app: AppDefinition, names: CredentialNames, problems: ProblemList): void {
  const api = app.api;
  if (api === undefined) return;
  const baseNames = new Set([...names.fields, ...names.kept]);
  problems.placeholders('/api/base_url', api.base_url, baseNames, 'a declared field or a kept token value');
  problems.url('/api/base_url', api.base_url, { origin: true });
  const origin = originPlaceholder(api.base_url);
  if (origin !== undefined && api.allowed_hosts === undefined) {
    problems.add('/api/allowed_hosts', 'is required when base_url starts with a placeholder (its host is not known in advance)');
  }
  const secretsInBase = templatePlaceholders(api.base_url).filter((name) => names.secrets.has(name));
  if (origin !== undefined && names.secrets.has(origin)) problems.add('/api/base_url', `{${origin}} is a secret and cannot be the origin`);
  else if (secretsInBase.length > 0 && api.auth?.type !== 'url') {
    problems.add('/api/base_url', `placeholder {${secretsInBase[0]}} is a secret: only api.auth type url puts a credential in the base URL`);
  }
  (api.allowed_hosts ?? []).forEach((host, i) => {
    const pointer = `/api/allowed_hosts/${i}`;
    problems.placeholders(pointer, host, names.fields, 'a declared field');
    const message = hostPatternProblem(host);
    if (message !== undefined) problems.add(pointer, message);
  });
  if (app.auth_type === 'none' && api.auth !== undefined) problems.add('/api/auth', 'is not allowed: an app without credentials (auth_type none) sends none');
  if (app.auth_type === 'keys' && api.auth === undefined) {
    problems.add('/api/auth', 'is required for keys apps: declare how the credential is sent (type header, query, basic or url)');
  }
  // A signature needs the consumer secret of the project's OAuth app and a token secret: only the oauth1 flow yields both.
  if (api.auth?.type === 'oauth1' && app.auth_type !== 'oauth1') problems.add('/api/auth/type', 'oauth1 is for auth_type oauth1 apps only');
  if (app.auth_type === 'oauth1' && api.auth !== undefined && api.auth.type !== 'oauth1') {
    problems.add('/api/auth/type', 'must be oauth1 for an auth_type oauth1 app (each request is signed)');
  }
  if (api.auth !== undefined && app.auth_type !== 'none') checkAuth(api.auth, secretsInBase.length > 0, names, problems, app.auth_type === 'oauth');
  checkHostAllowed('/api/base_url', api.base_url, app, problems);
}

function checkAuth(auth: ApiAuthDefinition, secretInBaseUrl: boolean, names: CredentialNames, problems: ProblemList, oauth: boolean): void {
  const what = oauth ? 'a declared field, oauth_access_token, oauth_client_id or a kept token value' : 'a declared field';
  const allowedKeys = AUTH_KEYS[auth.type];
  for (const key of ['headers', 'params', 'username', 'password'] as const) {
    if (auth[key] !== undefined && !allowedKeys.includes(key)) problems.add(`/api/auth/${key}`, `is not used by type ${auth.type}`);
  }
  const headers = Object.entries(auth.headers ?? {});
  const seenHeaders = new Set<string>();
  for (const [name, value] of headers) {
    const pointer = `/api/auth/headers/${escapePointer(name)}`;
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower)) problems.add(pointer, `${name} is set by the HTTP client and cannot be declared`);
    if (seenHeaders.has(lower)) problems.add(pointer, `${name} is declared twice (header names are case-insensitive)`);
    seenHeaders.add(lower);
    checkTemplateText(pointer, value, names.all, what, problems);
  }
  const params = Object.entries(auth.params ?? {});
  for (const [name, value] of params) checkTemplateText(`/api/auth/params/${escapePointer(name)}`, value, names.all, what, problems);
  for (const key of ['username', 'password'] as const) {
    const value = auth[key];
    if (value !== undefined) checkTemplateText(`/api/auth/${key}`, value, names.all, what, problems);
  }
  // RFC 7617 §2: the user-id cannot contain a colon; a fixed one would split the pair wrongly.
  if (auth.username !== undefined && auth.username.replace(/\{[^}]*\}/g, '').includes(':')) problems.add('/api/auth/username', 'must not contain a colon');

  // An undeclared placeholder is reported above; here only whether any credential is placed at all.
  const places = (templates: readonly string[]): boolean => templates.some((template) => templatePlaceholders(template).length > 0);
  switch (auth.type) {
    case 'header':
      if (headers.length === 0) problems.add('/api/auth/headers', 'is required for type header');
      else if (!places(headers.map(([, value]) => value))) problems.add('/api/auth/headers', 'place no credential (no {placeholder} in any value)');
      break;
    case 'query':
      if (params.length === 0) problems.add('/api/auth/params', 'is required for type query');
      else if (!places(params.map(([, value]) => value))) problems.add('/api/auth/params', 'place no credential (no {placeholder} in any value)');
      break;
    case 'basic':
      if (auth.username === undefined) problems.add('/api/auth/username', 'is required for type basic');
      if (auth.password === undefined) problems.add('/api/auth/password', 'is required for type basic (use "" for none)');
      if (auth.username !== undefined && auth.password !== undefined && !places([auth.username, auth.password])) {
        problems.add('/api/auth', 'places no credential (no {placeholder} in username or password)');
      }
      break;
    case 'oauth1':
      break;
    case 'url':
      if (!secretInBaseUrl) problems.add('/api/auth/type', 'url needs a secret field in api.base_url (that is where the credential goes)');
      break;
  }
}

export function checkTestRequest(app: AppDefinition, names: CredentialNames, problems: ProblemList): void {
  const test = app.test_request;
  if (test === undefined) return;
  const what = app.auth_type === 'oauth' ? 'a declared field, oauth_access_token, oauth_client_id or a kept token value' : 'a declared field';
  if (app.api === undefined) problems.add('/test_request', 'needs api (api.auth puts the credential on it, and only for api.allowed_hosts)');
  problems.placeholders('/test_request/url', test.url, names.all, what);
  problems.url('/test_request/url', test.url, { origin: true });
  const parts: [string, string][] = [
    ...Object.entries(test.headers ?? {}).map(([name, value]): [string, string] => [`/test_request/headers/${escapePointer(name)}`, value]),
    ...Object.entries(test.query ?? {}).map(([name, value]): [string, string] => [`/test_request/query/${escapePointer(name)}`, value]),
    ...(test.body === undefined ? [] : [['/test_request/body', test.body] as [string, string]]),
  ];
  for (const [pointer, template] of parts) {
    problems.placeholders(pointer, template, names.all, what);
    for (const name of new Set(templatePlaceholders(template))) {
      if (names.secrets.has(name)) problems.add(pointer, `placeholder {${name}} is a secret: only api.auth puts a credential on the request`);
    }
  }
  for (const [name] of Object.entries(test.headers ?? {})) {
    if (FORBIDDEN_HEADERS.has(name.toLowerCase()))
      problems.add(`/test_request/headers/${escapePointer(name)}`, `${name} is set by the HTTP client and cannot be declared`);
  }
  if (test.body !== undefined && (test.method ?? 'GET') === 'GET') problems.add('/test_request/body', 'needs method POST');
  if (app.api !== undefined) checkHostAllowed('/test_request/url', test.url, app, problems);
}

function checkTemplateText(pointer: string, template: string, allowed: ReadonlySet<string>, what: string, problems: ProblemList): void {
  problems.placeholders(pointer, template, allowed, what);
  if (hasControlCharacter(template)) problems.add(pointer, 'contains a control character');
}

/**
 * A credential only goes to api.allowed_hosts: a URL whose host is fixed or filled from a
 * choice must land on one of them for every choice. A host from free text (or an origin
 * placeholder) is checked when the request is made.
 */
function checkHostAllowed(pointer: string, template: string, app: AppDefinition, problems: ProblemList): void {
  if (originPlaceholder(template) !== undefined || app.api === undefined) return;
  const allowedHosts = app.api.allowed_hosts ?? [templateHost(app.api.base_url)];
  const used = new Set(templatePlaceholders(template));
  const choiceFields = (app.fields ?? []).filter((field) => field.choices !== undefined && used.has(field.name));
  for (const assignment of choiceAssignments(choiceFields)) {
    let url: string;
    try {
      url = new URL(standInUrl(template, assignment)).href;
    } catch {
      return; // reported by the URL check
    }
    const values = new Proxy<Record<string, string>>(assignment, { get: (target, name: string) => target[name] ?? PLACEHOLDER_STAND_IN });
    if (hostAllowed(allowedHosts, values, url)) continue;
    const chosen = Object.entries(assignment).map(([name, value]) => `${name}=${value}`);
    problems.add(pointer, `host ${new URL(url).host} is not in api.allowed_hosts${chosen.length === 0 ? '' : ` (with ${chosen.join(', ')})`}`);
    return;
  }
}

function choiceAssignments(fields: readonly FieldDefinition[]): Record<string, string>[] {
  let assignments: Record<string, string>[] = [{}];
  for (const field of fields) {
    const next = assignments.flatMap((assignment) => (field.choices ?? []).map((choice) => ({ ...assignment, [field.name]: choice.value })));
    assignments = next.length > MAX_CHOICE_COMBINATIONS ? next.slice(0, MAX_CHOICE_COMBINATIONS) : next;
  }
  return assignments;
}
