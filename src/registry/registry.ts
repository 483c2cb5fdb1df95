// The loaded app registry, as the rest of latchkey sees it: every app validated, its defaults
// filled and the whole object deeply frozen, so no consumer re-derives a default or mutates an
// entry. Arrays are typed mutable only so an entry stays assignable to AppDefinition (the file
// format); at run time they are frozen too.
import type { ScopeProfile } from './schema.ts';

export interface RegistryField {
  readonly name: string;
  readonly label: string;
  readonly secret: boolean;
  readonly optional: boolean;
  /** ECMAScript pattern the whole value must match (see fieldValueMatches). */
  readonly pattern?: string;
  /** The only values accepted (a select in the form); each fills templates as is. */
  readonly choices?: RegistryFieldChoice[];
  /** The choice used when none is given and for accounts stored before the field existed. */
  readonly default?: string;
  /** Older names of this field: values stored under them read under `name` (see credential-values.ts). */
  readonly aliases: string[];
  readonly placeholder?: string;
  readonly help?: string;
}

export interface RegistryFieldChoice {
  readonly value: string;
  readonly label: string;
}

export interface RegistryTokenResponse {
  readonly access_token_path: string;
  readonly refresh_token_path: string;
  readonly expires_in_path: string;
  readonly scope_path: string;
  readonly error_path?: string;
  /** Credential name → dot path in the token response. */
  readonly extra: Readonly<Record<string, string>>;
  readonly account_name_path?: string;
}

export interface RegistryOAuth {
  readonly grant: 'authorization_code';
  readonly authorize_url: string;
  readonly token_url: string;
  /** Defaults to token_url. */
  readonly refresh_url: string;
  readonly revoke_url?: string;
  readonly scopes: string[];
  /** Readable lines for scopes (any scope of the entry or its profiles); others show as they are. */
  readonly scope_descriptions: Readonly<Record<string, string>>;
  readonly scope_separator: string;
  readonly scope_param: string;
  readonly token_auth_method: 'client_secret_basic' | 'client_secret_post';
  readonly token_request_format: 'form' | 'json';
  /** The callback parameter holding the code (`code` unless the provider uses another). */
  readonly callback_code_param: string;
  /** How the built authorization URL is respelled; empty for RFC 6749 providers (see oauth/authorize-url-rewrite.ts). */
  readonly authorize_url_rewrite: RegistryAuthorizeUrlRewrite;
  /** Where client_secret_post puts the client's id and secret (`client_id`, `client_secret` unless the provider names them otherwise). */
  readonly token_param_names: { readonly client_id: string; readonly client_secret: string };
  /** Always S256 when true. */
  readonly pkce: boolean;
  readonly authorize_params: Readonly<Record<string, string>>;
  readonly token_params: Readonly<Record<string, string>>;
  readonly refresh_params: Readonly<Record<string, string>>;
  readonly token_response: RegistryTokenResponse;
  /** Credential name → callback query parameter. */
  readonly callback_params: Readonly<Record<string, string>>;
  readonly issuer?: string;
  readonly refresh_margin_seconds: number;
  readonly rotates_refresh_token: boolean;
  readonly refresh_token_idle_ttl_seconds?: number;
  readonly default_expires_in_seconds?: number;
}

export interface RegistryAuthorizeUrlRewrite {
  /** latchkey's parameter name → the provider's. */
  readonly rename_params: Readonly<Partial<Record<'client_id' | 'redirect_uri' | 'response_type', string>>>;
  readonly omit_params: readonly 'response_type'[];
  readonly query_in_fragment?: string;
}

export interface RegistryTestRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  /** Not authentication: the credential is put on the request by api.auth (credential-injection.ts). */
  readonly headers: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly success_path?: string;
  readonly account_name_path?: string;
  readonly uid_path?: string;
}

export interface RegistryApi {
  readonly base_url: string;
  /** Defaults to the host of base_url. `*.` prefix allows subdomains. */
  readonly allowed_hosts: string[];
  /** Declared, or the oauth default (Bearer token); absent only for auth_type none (nothing to send). */
  readonly auth?: RegistryApiAuth;
}

type HeaderTemplates = Readonly<Record<string, string>>;

/** Where the credential goes on a request to the app's API; templates use `{credential}` names. */
export type RegistryApiAuth =
  | { readonly type: 'header'; readonly headers: HeaderTemplates }
  | { readonly type: 'query'; readonly params: Readonly<Record<string, string>>; readonly headers: HeaderTemplates }
  | { readonly type: 'basic'; readonly username: string; readonly password: string; readonly headers: HeaderTemplates }
  /** The credential is part of api.base_url (Telegram's `/bot{token}`); only the headers are added. */
  | { readonly type: 'url'; readonly headers: HeaderTemplates };

interface RegistryAppBase {
  readonly slug: string;
  readonly name: string;
  readonly description?: string;
  readonly categories: string[];
  readonly img_src?: string;
  /** A simple-icons slug, or false when the app has no mark there (see apps/brand-icons.ts). */
  readonly brand_icon?: string | false;
  readonly docs?: string;
  readonly featured_weight: number;
  /** keys apps: the whole form; oauth apps: values asked before authorizing. */
  readonly fields: RegistryField[];
  readonly scope_profiles: ScopeProfile[];
  readonly api?: RegistryApi;
  readonly test_request?: RegistryTestRequest;
  /** The file the app was loaded from (for operators' messages). */
  readonly source: string;
}

export interface RegistryOAuthApp extends RegistryAppBase {
  readonly auth_type: 'oauth';
  readonly oauth: RegistryOAuth;
}

export interface RegistryKeysApp extends RegistryAppBase {
  readonly auth_type: 'keys';
}

export interface RegistryNoneApp extends RegistryAppBase {
  readonly auth_type: 'none';
}

export type RegistryApp = RegistryOAuthApp | RegistryKeysApp | RegistryNoneApp;

export interface AppRegistry {
  /** Undefined for an unknown slug; callers check the slug's shape before asking. */
  get(slug: string): RegistryApp | undefined;
  /** Every app, sorted by slug. */
  list(): readonly RegistryApp[];
}

export const SLUG_REGEX = /^[a-z0-9_-]{1,64}$/;

/** Pipedream's app id is `app_<slug>`; every endpoint that names an app takes either form. */
export const APP_ID_PREFIX = 'app_';

/** The app a slug or an app id names (a slug that itself begins with app_ wins over the id reading). */
export function findAppByIdOrSlug(registry: AppRegistry, idOrSlug: string): RegistryApp | undefined {
  if (!SLUG_REGEX.test(idOrSlug)) return undefined;
  return registry.get(idOrSlug) ?? (idOrSlug.startsWith(APP_ID_PREFIX) ? registry.get(idOrSlug.slice(APP_ID_PREFIX.length)) : undefined);
}

/** For filters: the slug an app id names, or the value itself when it names no app (the filter then matches nothing). */
export function appSlugFilter(registry: AppRegistry, idOrSlug: string | undefined): string | undefined {
  if (idOrSlug === undefined) return undefined;
  return findAppByIdOrSlug(registry, idOrSlug)?.slug ?? idOrSlug;
}

/** Builds the lookup over apps that were already validated and normalised (see loader.ts). */
export function registryOf(apps: readonly RegistryApp[]): AppRegistry {
  const bySlug = new Map(apps.map((app) => [app.slug, app]));
  const sorted = Object.freeze([...apps].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0)));
  return { get: (slug) => bySlug.get(slug), list: () => sorted };
}

const compiledPatterns = new WeakMap<RegistryField, RegExp>();

/** Whether a value is one of the field's choices and satisfies its pattern (anchored: the whole value must match). */
export function fieldValueMatches(field: RegistryField, value: string): boolean {
  if (field.choices !== undefined && !field.choices.some((choice) => choice.value === value)) return false;
  if (field.pattern === undefined) return true;
  let regex = compiledPatterns.get(field);
  if (regex === undefined) {
    regex = new RegExp(`^(?:${field.pattern})$`, 'u');
    compiledPatterns.set(field, regex);
  }
  return regex.test(value);
}
