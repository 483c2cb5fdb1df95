// The app registry's format: the one source of truth for what an app file may say.
// `npm run registry:schema` turns it into app-registry/schema.json for editors; the loader
// validates every file against it at start (see loader.ts for the cross-checks a JSON Schema
// cannot express: slug = file name, declared placeholders, https-only URLs, compilable patterns).
import { Type, type Static } from '@sinclair/typebox';

const SLUG_PATTERN = '^[a-z0-9_-]{1,64}$';
/** Credential names are Pipedream's `$auth` names where a component exists (Twilio's `AccountSid`). */
const FIELD_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,63}$';
const FieldName = Type.String({ pattern: FIELD_NAME_PATTERN });

/** A URL that may hold `{field}` placeholders filled from the fields the user entered. */
const TemplatedUrl = Type.String({ minLength: 1, maxLength: 2048, description: 'absolute URL; may contain {field} placeholders' });

const StringMap = Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 2048 }));

/** HTTP header names (RFC 9110 §5.1 tokens) mapped to templated values. */
const HeaderMap = Type.Record(Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$" }), Type.String({ maxLength: 2048 }), {
  additionalProperties: false,
});

/** A dot path into a JSON document, e.g. `authed_user.access_token`. */
const JsonPath = Type.String({ pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*$', maxLength: 256 });

export const FieldChoiceSchema = Type.Object(
  {
    value: Type.String({ minLength: 1, maxLength: 253, description: 'what is stored and filled into templates' }),
    label: Type.String({ minLength: 1, maxLength: 120 }),
  },
  { additionalProperties: false },
);

export const FieldSchema = Type.Object(
  {
    name: Type.String({ pattern: FIELD_NAME_PATTERN, description: 'credential key the value is stored under (api_key, subdomain, …)' }),
    label: Type.String({ minLength: 1, maxLength: 120 }),
    secret: Type.Optional(Type.Boolean({ default: false, description: 'masked in the form and never echoed back' })),
    optional: Type.Optional(Type.Boolean({ default: false })),
    pattern: Type.Optional(Type.String({ maxLength: 512, description: 'ECMAScript regular expression the whole value must match' })),
    /** A fixed list (regions, sandboxes): the form shows a select and only these values are accepted. */
    choices: Type.Optional(Type.Array(FieldChoiceSchema, { minItems: 1, maxItems: 50 })),
    /** A choice's value used when none is given, and for accounts stored before the field existed. */
    default: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    /** Names this field had before; values stored under them are read under `name`. */
    aliases: Type.Optional(Type.Array(FieldName, { minItems: 1, maxItems: 5 })),
    placeholder: Type.Optional(Type.String({ maxLength: 200 })),
    help: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const TokenResponseSchema = Type.Object(
  {
    access_token_path: Type.Optional(JsonPath),
    refresh_token_path: Type.Optional(JsonPath),
    expires_in_path: Type.Optional(JsonPath),
    scope_path: Type.Optional(JsonPath),
    /** Providers that answer 200 with `{ok:false,error}` (Slack) name the error here. */
    error_path: Type.Optional(JsonPath),
    /** Extra values kept as credentials: credential name → path in the token response. */
    extra: Type.Optional(Type.Record(FieldName, JsonPath, { additionalProperties: false })),
    /** Name of the account, from the token response (e.g. Slack's team name). */
    account_name_path: Type.Optional(JsonPath),
  },
  { additionalProperties: false },
);

/** A query parameter name as a provider spells it (TikTok's `client_key`, Printful's `redirect_url`). */
const QueryParamName = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' });

/**
 * Declarative changes to the authorization request for providers that do not take RFC 6749's
 * spelling of it (what Nango's authorization_url_replacements and _fragment do with string
 * replacement on the whole URL): applied to latchkey's own parameters only, after the URL is
 * built, so nothing here can touch `state`, PKCE or a value a user typed. See
 * src/oauth/authorize-url-rewrite.ts; the loader checks names do not collide.
 */
export const AuthorizeUrlRewriteSchema = Type.Object(
  {
    /** The standard parameter under the provider's name (TikTok: client_id → client_key). */
    rename_params: Type.Optional(
      Type.Object(
        { client_id: Type.Optional(QueryParamName), redirect_uri: Type.Optional(QueryParamName), response_type: Type.Optional(QueryParamName) },
        { additionalProperties: false },
      ),
    ),
    /** Standard parameters the provider refuses (monday's legacy flow: no response_type). */
    omit_params: Type.Optional(Type.Array(Type.Literal('response_type'), { minItems: 1, maxItems: 1 })),
    /**
     * For authorize pages that are single-page apps routing on the fragment (Apollo:
     * `https://app.apollo.io/#/oauth/authorize?client_id=…`): the query moves behind `#<this>`.
     */
    query_in_fragment: Type.Optional(Type.String({ pattern: '^/?[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$', maxLength: 128 })),
  },
  { additionalProperties: false },
);

export const OAuthSchema = Type.Object(
  {
    grant: Type.Optional(
      Type.Union([Type.Literal('authorization_code')], {
        default: 'authorization_code',
        description: 'OAuth 2.0 grant; client_credentials is reserved for later',
      }),
    ),
    authorize_url: TemplatedUrl,
    token_url: TemplatedUrl,
    refresh_url: Type.Optional(TemplatedUrl),
    revoke_url: Type.Optional(TemplatedUrl),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: 200 }),
    /** What each scope lets latchkey's customer do, in the provider's words: shown on the consent step of the hosted page. */
    scope_descriptions: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 512 }), Type.String({ minLength: 1, maxLength: 200 }))),
    scope_separator: Type.Optional(Type.String({ minLength: 1, maxLength: 3, default: ' ' })),
    /** Authorization query parameter the scopes travel in (Slack user tokens: `user_scope`). */
    scope_param: Type.Optional(Type.String({ pattern: '^[a-z_]{1,32}$', default: 'scope' })),
    token_auth_method: Type.Optional(Type.Union([Type.Literal('client_secret_basic'), Type.Literal('client_secret_post')], { default: 'client_secret_basic' })),
    /** How the token request's parameters travel (RFC 6749 §4.1.3 says form; Notion and others document JSON). Refreshes use the same. */
    token_request_format: Type.Optional(Type.Union([Type.Literal('form'), Type.Literal('json')], { default: 'form' })),
    /** The callback query parameter the authorization code arrives in (Amazon SP-API: `spapi_oauth_code`). */
    callback_code_param: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$', default: 'code' })),
    authorize_url_rewrite: Type.Optional(AuthorizeUrlRewriteSchema),
    /**
     * The client's credentials under the provider's names in the token request body (TikTok:
     * client_key), for the code exchange and the refresh; needs client_secret_post.
     */
    token_param_names: Type.Optional(
      Type.Object({ client_id: Type.Optional(QueryParamName), client_secret: Type.Optional(QueryParamName) }, { additionalProperties: false }),
    ),
    /** PKCE is always S256; `false` only for providers that reject the parameters. `plain` is never allowed. */
    pkce: Type.Optional(Type.Boolean({ default: true })),
    authorize_params: Type.Optional(StringMap),
    token_params: Type.Optional(StringMap),
    refresh_params: Type.Optional(StringMap),
    token_response: Type.Optional(TokenResponseSchema),
    /** Values the provider appends to the callback URL (QuickBooks' realmId): credential name → query parameter. */
    callback_params: Type.Optional(Type.Record(FieldName, Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), { additionalProperties: false })),
    /** Expected RFC 9207 `iss` on the callback, when the provider sends one. */
    issuer: Type.Optional(TemplatedUrl),
    /** Seconds before expiry at which a token counts as stale (default 300). */
    refresh_margin_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400 })),
    /** Whether each refresh returns a new refresh token and invalidates the old one. */
    rotates_refresh_token: Type.Optional(Type.Boolean({ default: false })),
    /** Idle lifetime of a refresh token (e.g. Xero: 60 days); the refresher keeps it alive. */
    refresh_token_idle_ttl_seconds: Type.Optional(Type.Integer({ minimum: 3600 })),
    /** Lifetime to assume when the token response has no expires_in and the provider documents one. */
    default_expires_in_seconds: Type.Optional(Type.Integer({ minimum: 60 })),
  },
  { additionalProperties: false },
);

export const TestRequestSchema = Type.Object(
  {
    method: Type.Optional(Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'GET' })),
    /** May place a credential only where the API names a resource with it (Algolia's /keys/{api_key}). */
    url: TemplatedUrl,
    /** Headers that are not authentication (Accept, Content-Type); the credential comes from api.auth. */
    headers: Type.Optional(HeaderMap),
    query: Type.Optional(StringMap),
    body: Type.Optional(Type.String({ maxLength: 4096, description: 'request body (POST), templated' })),
    /** For APIs that answer 200 with a failure flag (Slack `ok:false`). */
    success_path: Type.Optional(JsonPath),
    /** Path in the JSON answer that names the account (login, email, team name). */
    account_name_path: Type.Optional(JsonPath),
    /** Path in the JSON answer of the provider's user id (GitHub `id`): kept as `oauth_uid` when no ID token gave one. */
    uid_path: Type.Optional(JsonPath),
  },
  { additionalProperties: false },
);

/**
 * How a credential is put on a request to the app's API: one declaration shared by the test
 * request and the Connect proxy. `type` says where the credential goes; further grant types
 * (OAuth 1.0a signing, …) will be further types. The loader checks which keys each type takes.
 */
export const API_AUTH_TYPES = ['header', 'query', 'basic', 'url'] as const;

export const ApiAuthSchema = Type.Object(
  {
    type: Type.Union(
      API_AUTH_TYPES.map((type) => Type.Literal(type)),
      {
        description:
          'header: templated headers; query: templated query parameters; basic: HTTP Basic from username/password; url: the credential is part of api.base_url',
      },
    ),
    /** Sent on every request. For `header` these carry the credential; for the others, fixed extras (API version pins). */
    headers: Type.Optional(HeaderMap),
    /** `query` only: query parameters that carry the credential. */
    params: Type.Optional(StringMap),
    /** `basic` only (RFC 7617): templates for the user id (no colon) and the password (may be empty). */
    username: Type.Optional(Type.String({ maxLength: 256 })),
    password: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);

export const ApiSchema = Type.Object(
  {
    base_url: TemplatedUrl,
    /** Hosts a credential may be sent to (for the proxy); `*.` prefix allows subdomains. */
    allowed_hosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 50 })),
    /** Default for oauth apps: `Authorization: Bearer {oauth_access_token}`. Keys apps must declare it. */
    auth: Type.Optional(ApiAuthSchema),
  },
  { additionalProperties: false },
);

export const ScopeProfileSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9_-]{1,64}$' }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { maxItems: 200 }),
  },
  { additionalProperties: false },
);

const common = {
  $schema: Type.Optional(Type.String()),
  slug: Type.String({ pattern: SLUG_PATTERN }),
  name: Type.String({ minLength: 1, maxLength: 120 }),
  description: Type.Optional(Type.String({ maxLength: 1000 })),
  categories: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 60 }), { maxItems: 10 })),
  img_src: Type.Optional(Type.String({ maxLength: 2048 })),
  /**
   * The simple-icons slug of the app's logo when it is not the app's own slug or name without
   * punctuation (`false`: none of simple-icons' marks is this app's, so the monogram is shown).
   */
  brand_icon: Type.Optional(Type.Union([Type.String({ pattern: '^[a-z0-9]{1,80}$' }), Type.Literal(false)])),
  /** The provider documentation page the endpoints were taken from. */
  docs: Type.Optional(Type.String({ maxLength: 2048 })),
  featured_weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000 })),
  /** Fields the user enters: the whole form for `keys` apps; values needed before authorizing for `oauth` apps. */
  fields: Type.Optional(Type.Array(FieldSchema, { maxItems: 30 })),
  api: Type.Optional(ApiSchema),
  test_request: Type.Optional(TestRequestSchema),
};

export const OAuthAppSchema = Type.Object(
  {
    ...common,
    auth_type: Type.Literal('oauth'),
    oauth: OAuthSchema,
    scope_profiles: Type.Optional(Type.Array(ScopeProfileSchema, { maxItems: 20 })),
  },
  { additionalProperties: false },
);

export const KeysAppSchema = Type.Object(
  { ...common, auth_type: Type.Literal('keys'), fields: Type.Array(FieldSchema, { minItems: 1, maxItems: 30 }) },
  { additionalProperties: false },
);

export const NoneAppSchema = Type.Object({ ...common, auth_type: Type.Literal('none') }, { additionalProperties: false });

export const AppDefinitionSchema = Type.Union([OAuthAppSchema, KeysAppSchema, NoneAppSchema], {
  $id: 'https://latchkey.dev/schemas/app-registry.json',
  title: 'latchkey app registry entry',
});

export type FieldDefinition = Static<typeof FieldSchema>;
export type OAuthDefinition = Static<typeof OAuthSchema>;
export type TestRequestDefinition = Static<typeof TestRequestSchema>;
export type ScopeProfile = Static<typeof ScopeProfileSchema>;
export type OAuthAppDefinition = Static<typeof OAuthAppSchema>;
export type KeysAppDefinition = Static<typeof KeysAppSchema>;
export type NoneAppDefinition = Static<typeof NoneAppSchema>;
export type AppDefinition = Static<typeof AppDefinitionSchema>;
export type ApiDefinition = Static<typeof ApiSchema>;
export type ApiAuthDefinition = Static<typeof ApiAuthSchema>;
export type FieldChoice = Static<typeof FieldChoiceSchema>;
export type AuthorizeUrlRewriteDefinition = Static<typeof AuthorizeUrlRewriteSchema>;
