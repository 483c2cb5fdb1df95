// The rules a JSON Schema cannot express, run on a file that already passed the schema. Each
// returns problems as JSON pointers into the file, so an operator can find the line.
import type { AppDefinition } from './schema.ts';
import { templatePlaceholders } from './templates.ts';

export interface Problem {
  readonly pointer: string;
  readonly message: string;
}

export interface CrossCheckOptions {
  /** The slug the file name implies (`acme.yaml` → `acme`). */
  readonly expectedSlug: string;
  /** LATCHKEY_INSECURE_LOOPBACK: allows http: for 127.0.0.1, localhost and [::1]. */
  readonly insecureLoopback: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Stand-in for a placeholder when a template is parsed as a URL (a valid host label). */
const PLACEHOLDER_STAND_IN = 'x';

/** Credential names latchkey fills itself (Pipedream's names); an app may not redefine them. */
const RESERVED_CREDENTIAL_NAMES = new Set(['oauth_access_token', 'oauth_refresh_token', 'oauth_client_id', 'oauth_uid', 'oauth_signer_uri', 'expires_at']);

// Parameters the connect flow sets itself. Letting a file override them would weaken the flow:
// `state` is the CSRF binding, `redirect_uri` must be exact, and PKCE is always S256 (RFC 9700
// §2.1.1 — `plain` offers no protection against a leaked authorization request).
const RESERVED_AUTHORIZE_PARAMS = new Set(['client_id', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method']);
const RESERVED_TOKEN_PARAMS = new Set(['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret', 'refresh_token']);

const HOST_PATTERN = /^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$/;

export function crossCheck(app: AppDefinition, options: CrossCheckOptions): Problem[] {
  const problems: Problem[] = [];
  const add = (pointer: string, message: string): void => void problems.push({ pointer, message });

  if (app.slug !== options.expectedSlug) add('/slug', `must equal the file name (${options.expectedSlug}), found ${app.slug}`);
  if (app.slug.startsWith('app_')) add('/slug', 'must not start with app_ (reserved for app ids)');

  const fields = app.fields ?? [];
  const fieldNames = new Set<string>();
  fields.forEach((field, i) => {
    if (fieldNames.has(field.name)) add(`/fields/${i}/name`, `duplicate field name ${field.name}`);
    fieldNames.add(field.name);
    if (RESERVED_CREDENTIAL_NAMES.has(field.name)) add(`/fields/${i}/name`, `${field.name} is a credential name latchkey sets itself`);
    if (field.pattern !== undefined) {
      try {
        new RegExp(field.pattern, 'u');
      } catch (err) {
        add(`/fields/${i}/pattern`, `is not a valid regular expression (${(err as Error).message})`);
      }
    }
  });

  const profileNames = new Set<string>();
  (app.auth_type === 'oauth' ? (app.scope_profiles ?? []) : []).forEach((profile, i) => {
    if (profileNames.has(profile.name)) add(`/scope_profiles/${i}/name`, `duplicate scope profile ${profile.name}`);
    profileNames.add(profile.name);
  });

  const checkPlaceholders = (pointer: string, template: string, allowed: ReadonlySet<string>, what: string): void => {
    for (const name of new Set(templatePlaceholders(template))) {
      if (!allowed.has(name)) add(pointer, `placeholder {${name}} is not ${what}`);
    }
  };
  const checkUrl = (pointer: string, template: string, page = false): void => {
    const message = urlProblem(template, options.insecureLoopback, page);
    if (message !== undefined) add(pointer, message);
  };
  const urlFieldsOnly = 'a declared field';

  if (app.docs !== undefined) checkUrl('/docs', app.docs, true);
  if (app.img_src !== undefined) checkUrl('/img_src', app.img_src, true);

  const credentialNames = new Set(fieldNames);
  if (app.auth_type === 'oauth') {
    const oauth = app.oauth;
    for (const key of ['authorize_url', 'token_url', 'refresh_url', 'revoke_url', 'issuer'] as const) {
      const template = oauth[key];
      if (template === undefined) continue;
      checkPlaceholders(`/oauth/${key}`, template, fieldNames, urlFieldsOnly);
      checkUrl(`/oauth/${key}`, template);
    }
    const paramMaps = [
      ['authorize_params', oauth.authorize_params, RESERVED_AUTHORIZE_PARAMS],
      ['token_params', oauth.token_params, RESERVED_TOKEN_PARAMS],
      ['refresh_params', oauth.refresh_params, RESERVED_TOKEN_PARAMS],
    ] as const;
    for (const [key, params, reserved] of paramMaps) {
      for (const [name, value] of Object.entries(params ?? {})) {
        const pointer = `/oauth/${key}/${escapePointer(name)}`;
        if (reserved.has(name.toLowerCase())) add(pointer, `${name} is set by latchkey and cannot be overridden`);
        checkPlaceholders(pointer, value, fieldNames, urlFieldsOnly);
      }
    }
    if (oauth.scope_param !== undefined && RESERVED_AUTHORIZE_PARAMS.has(oauth.scope_param)) {
      add('/oauth/scope_param', `${oauth.scope_param} is set by latchkey and cannot carry scopes`);
    }
    const kept = [
      ['token_response/extra', Object.keys(oauth.token_response?.extra ?? {})],
      ['callback_params', Object.keys(oauth.callback_params ?? {})],
    ] as const;
    for (const [key, names] of kept) {
      for (const name of names) {
        const pointer = `/oauth/${key}/${name}`;
        if (RESERVED_CREDENTIAL_NAMES.has(name)) add(pointer, `${name} is a credential name latchkey sets itself`);
        else if (credentialNames.has(name)) add(pointer, `${name} is already a credential of this app`);
        credentialNames.add(name);
      }
    }
    credentialNames.add('oauth_access_token');
  }

  if (app.api !== undefined) {
    checkPlaceholders('/api/base_url', app.api.base_url, fieldNames, urlFieldsOnly);
    checkUrl('/api/base_url', app.api.base_url);
    (app.api.allowed_hosts ?? []).forEach((host, i) => {
      const pointer = `/api/allowed_hosts/${i}`;
      checkPlaceholders(pointer, host, fieldNames, urlFieldsOnly);
      const message = hostPatternProblem(host);
      if (message !== undefined) add(pointer, message);
    });
  }

  const test = app.test_request;
  if (test !== undefined) {
    const what = app.auth_type === 'oauth' ? 'a declared field, oauth_access_token or a kept token value' : 'a declared field';
    checkPlaceholders('/test_request/url', test.url, credentialNames, what);
    checkUrl('/test_request/url', test.url);
    for (const key of ['headers', 'query'] as const) {
      for (const [name, value] of Object.entries(test[key] ?? {}))
        checkPlaceholders(`/test_request/${key}/${escapePointer(name)}`, value, credentialNames, what);
    }
    if (test.basic_auth !== undefined) {
      checkPlaceholders('/test_request/basic_auth/username', test.basic_auth.username, credentialNames, what);
      checkPlaceholders('/test_request/basic_auth/password', test.basic_auth.password, credentialNames, what);
    }
    if (test.body !== undefined) checkPlaceholders('/test_request/body', test.body, credentialNames, what);
    if (test.body !== undefined && (test.method ?? 'GET') === 'GET') add('/test_request/body', 'needs method POST');
  }
  return problems;
}

/**
 * Why a (templated) URL is unacceptable, or undefined when it is fine. Endpoints may not carry a
 * fragment (it never reaches the server and hides mistakes); `page` URLs (docs, images) may.
 */
export function urlProblem(template: string, insecureLoopback: boolean, page = false): string | undefined {
  let url: URL;
  try {
    url = new URL(template.replace(/\{[a-z][a-z0-9_]{0,63}\}/g, PLACEHOLDER_STAND_IN));
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.hash !== '' && !page) return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an https: URL';
  if (!LOOPBACK_HOSTS.has(url.hostname)) return 'must be an https: URL (http: only for 127.0.0.1, localhost or [::1])';
  if (!insecureLoopback) return 'must be an https: URL (http: to a loopback host needs LATCHKEY_INSECURE_LOOPBACK=true)';
  return undefined;
}

function hostPatternProblem(host: string): string | undefined {
  const concrete = host.replace(/\{[a-z][a-z0-9_]{0,63}\}/g, PLACEHOLDER_STAND_IN);
  if (!HOST_PATTERN.test(concrete)) return 'must be a host name (optionally starting with *. or ending with :port)';
  // `*.com` would let a credential go to any host under a public suffix.
  if (concrete.startsWith('*.') && concrete.split('.').length < 3) return 'a *. wildcard needs at least two labels after it';
  return undefined;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
