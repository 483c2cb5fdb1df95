// The registry's side of OAuth 1.0a (RFC 5849): an `oauth1:` block's defaults, its cross-checks
// (https endpoints, no parameter that latchkey signs itself, kept names that are free) and the
// credential names every OAuth 1.0a account holds. The flow itself lives in src/oauth1/.
import { escapePointer, type ProblemList } from './check-helpers.ts';
import type { RegistryOAuth1 } from './registry.ts';
import { fillTemplate, hasControlCharacter, type TemplateValues } from './templates.ts';
import type { OAuth1Definition } from './schema.ts';

/** What an OAuth 1.0a account stores (RFC 5849 §2.3 token credentials, and the client identifier of §3.1). */
export const OAUTH1_CREDENTIAL_NAMES = ['oauth_token', 'oauth_token_secret', 'oauth_consumer_key'] as const;

/**
 * Pipedream's names for the same two values (its OAuth 1.0a components read the token as
 * `$auth.oauth_access_token` and its secret as `$auth.oauth_refresh_token`, e.g.
 * components/trello/trello.app.mjs): the credential fetch answers both, so a backend moving
 * from Pipedream reads what it read before. Derived when the account is read, never stored twice.
 */
export const OAUTH1_PIPEDREAM_NAMES = { oauth_access_token: 'oauth_token', oauth_refresh_token: 'oauth_token_secret' } as const;

export function withPipedreamOAuth1Names<T extends string | null>(values: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = { ...values };
  for (const [alias, name] of Object.entries(OAUTH1_PIPEDREAM_NAMES)) {
    const value = values[name];
    if (value !== undefined) out[alias] = value;
  }
  return out;
}

/** Only the token secret is a secret: the token and the consumer key travel in every signed request (§3.5). */
export const OAUTH1_SECRET_CREDENTIALS: ReadonlySet<string> = new Set(['oauth_token_secret']);

/** Every `oauth_` parameter is the protocol's (RFC 5849 §3.4.1.3.1 signs them all): an entry may set none. */
const PROTOCOL_PARAM = /^oauth_/i;

export function normalizeOAuth1(oauth1: OAuth1Definition): RegistryOAuth1 {
  return {
    request_token_url: oauth1.request_token_url,
    authorize_url: oauth1.authorize_url,
    access_token_url: oauth1.access_token_url,
    ...(oauth1.revoke_url === undefined ? {} : { revoke_url: oauth1.revoke_url }),
    signature_method: oauth1.signature_method ?? 'HMAC-SHA1',
    token_request_method: oauth1.token_request_method ?? 'POST',
    token_params_in: oauth1.token_params_in ?? 'header',
    ...(oauth1.realm === undefined ? {} : { realm: oauth1.realm }),
    request_token_params: oauth1.request_token_params ?? {},
    authorize_params: oauth1.authorize_params ?? {},
    scopes: oauth1.scopes ?? [],
    ...(oauth1.scope_param === undefined ? {} : { scope_param: oauth1.scope_param }),
    scope_separator: oauth1.scope_separator ?? ',',
    token_response_extra: oauth1.token_response_extra ?? {},
    ...(oauth1.account_name_param === undefined ? {} : { account_name_param: oauth1.account_name_param }),
  };
}

export function checkOAuth1(oauth1: OAuth1Definition, fields: ReadonlySet<string>, reserved: ReadonlySet<string>, problems: ProblemList): void {
  for (const key of ['request_token_url', 'authorize_url', 'access_token_url', 'revoke_url'] as const) {
    const template = oauth1[key];
    if (template === undefined) continue;
    problems.placeholders(`/oauth1/${key}`, template, fields, 'a declared field');
    problems.url(`/oauth1/${key}`, template);
  }
  for (const key of ['request_token_params', 'authorize_params'] as const) {
    for (const [name, value] of Object.entries(oauth1[key] ?? {})) {
      const pointer = `/oauth1/${key}/${escapePointer(name)}`;
      if (PROTOCOL_PARAM.test(name)) problems.add(pointer, `${name} is an OAuth protocol parameter latchkey sets itself`);
      problems.placeholders(pointer, value, fields, 'a declared field');
    }
  }
  if (oauth1.realm !== undefined && oauth1.token_params_in === 'query')
    problems.add('/oauth1/realm', 'is sent in the Authorization header only (token_params_in is query)');
  if (oauth1.realm !== undefined) {
    problems.placeholders('/oauth1/realm', oauth1.realm, fields, 'a declared field');
    if (!realmTextAllowed(oauth1.realm)) problems.add('/oauth1/realm', 'must not contain a quote, a backslash or a control character');
  }
  if (oauth1.scope_param !== undefined && PROTOCOL_PARAM.test(oauth1.scope_param)) {
    problems.add('/oauth1/scope_param', `${oauth1.scope_param} is an OAuth protocol parameter and cannot carry scopes`);
  }
  if ((oauth1.scopes ?? []).length > 0 && oauth1.scope_param === undefined) problems.add('/oauth1/scope_param', 'is required when scopes are listed');
  const seen = new Set(fields);
  for (const name of Object.keys(oauth1.token_response_extra ?? {})) {
    const pointer = `/oauth1/token_response_extra/${name}`;
    if (reserved.has(name) || (OAUTH1_CREDENTIAL_NAMES as readonly string[]).includes(name))
      problems.add(pointer, `${name} is a credential name latchkey sets itself`);
    else if (seen.has(name)) problems.add(pointer, `${name} is already a credential of this app`);
    seen.add(name);
  }
}

/** A realm is a quoted-string (RFC 2617 §1.2): no quote, backslash or control character may end it early. */
function realmTextAllowed(value: string): boolean {
  return !hasControlCharacter(value) && !value.includes('"') && !value.includes('\\');
}

/** The realm of one request, filled from the account's values; undefined when the entry has none. */
export function fillRealm(template: string | undefined, values: TemplateValues): string | undefined {
  if (template === undefined) return undefined;
  const realm = fillTemplate(template, values, 'header');
  if (!realmTextAllowed(realm)) throw new Error('realm value not allowed');
  return realm;
}
