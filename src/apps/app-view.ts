// A registry app as Pipedream's `App` object: the one view of an app. GET /v1/connect/apps
// returns it, and every other response that names an app embeds the same object (accounts,
// ACCOUNT_* and CONNECTION_* webhooks, OAuth apps, token validation). Descriptive fields only:
// endpoints, parameters and test requests stay inside latchkey (credential field names are
// descriptive: they say what `credentials` holds, never a value).
import { Type, type Static } from '@sinclair/typebox';
import { OAUTH1_CREDENTIAL_NAMES, OAUTH1_PIPEDREAM_NAMES } from '../registry/oauth1-entry.ts';
import type { RegistryApp } from '../registry/registry.ts';

export const AppSchema = Type.Object(
  {
    id: Type.String({ description: 'app_<slug>; accepted wherever a slug is' }),
    name_slug: Type.String(),
    name: Type.String(),
    auth_type: Type.Union([Type.Literal('oauth'), Type.Literal('keys'), Type.Literal('none')]),
    description: Type.Union([Type.String(), Type.Null()]),
    img_src: Type.String(),
    categories: Type.Array(Type.String()),
    featured_weight: Type.Integer(),
    custom_fields_json: Type.String({
      description: 'JSON array of the fields the user enters: the form of a keys app, or what an oauth app asks before authorizing',
    }),
    scope_profiles: Type.Array(Type.Object({ name: Type.String(), description: Type.Optional(Type.String()), scopes: Type.Array(Type.String()) })),
    credential_fields: Type.Array(Type.String(), {
      description: 'the $auth property names an account of this app yields (credentials.<name> with include_credentials=true); names only, never values',
    }),
  },
  { $id: 'App', description: 'An app of the registry' },
);

export type AppView = Static<typeof AppSchema>;

export const APP_ID_PREFIX = 'app_';

export function appId(slug: string): string {
  return `${APP_ID_PREFIX}${slug}`;
}

/** Where the generated monogram of an app without its own image is served. */
export function appIconUrl(publicUrl: string, slug: string): string {
  return `${publicUrl}/v1/connect/apps/${slug}/icon.svg`;
}

export function toAppView(app: RegistryApp, publicUrl: string): AppView {
  return {
    id: appId(app.slug),
    name_slug: app.slug,
    name: app.name,
    auth_type: pipedreamAuthType(app),
    description: app.description ?? null,
    img_src: app.img_src ?? appIconUrl(publicUrl, app.slug),
    categories: [...app.categories],
    featured_weight: app.featured_weight,
    custom_fields_json: customFieldsJson(app),
    scope_profiles: app.scope_profiles.map((profile) => ({ ...profile, scopes: [...profile.scopes] })),
    credential_fields: credentialFieldsOf(app),
  };
}

/**
 * The app view of every registry entry, built once per entry (entries are frozen; the credential
 * hot path embeds it in every account). An app removed from the registry after accounts or
 * OAuth clients were made for it still lists, minimally, under its slug.
 */
export class AppViews {
  private readonly built = new WeakMap<RegistryApp, AppView>();

  constructor(private readonly publicUrl: string) {}

  of(app: RegistryApp | undefined, slug: string): AppView {
    if (app === undefined) return removedAppView(slug);
    let view = this.built.get(app);
    if (view === undefined) {
      view = toAppView(app, this.publicUrl);
      this.built.set(app, view);
    }
    return view;
  }
}

/** The same view, uncached, for callers off the hot path. */
export function appViewOf(app: RegistryApp | undefined, slug: string, publicUrl: string): AppView {
  return app === undefined ? removedAppView(slug) : toAppView(app, publicUrl);
}

function removedAppView(slug: string): AppView {
  return {
    id: slug,
    name_slug: slug,
    name: slug,
    auth_type: 'oauth',
    description: null,
    img_src: '',
    categories: [],
    featured_weight: 0,
    custom_fields_json: '[]',
    scope_profiles: [],
    credential_fields: [],
  };
}

/**
 * Pipedream's three values, which the SDK parses: `oauth` for flows that send the user to the
 * provider, `keys` for flows where the user only types values on the hosted form — the machine
 * grants (client credentials, JWT bearer) among them, though latchkey mints their tokens.
 */
function pipedreamAuthType(app: RegistryApp): AppView['auth_type'] {
  // Pipedream's values, so the SDK keeps parsing: an OAuth 1.0a app and an MCP server redirect to
  // their provider like an OAuth 2.0 app; a machine grant's user only types values, like a keys app.
  if (app.auth_type === 'oauth1' || app.auth_type === 'mcp') return 'oauth';
  if (app.auth_type === 'oauth' && app.oauth.grant !== 'authorization_code') return 'keys';
  return app.auth_type;
}

/** Pipedream's custom field list, as the JSON string the SDK expects. */
export function customFieldsJson(app: RegistryApp): string {
  return JSON.stringify(
    app.fields.map((field) => ({
      name: field.name,
      label: field.label,
      type: 'string',
      secret: field.secret,
      optional: field.optional,
      ...(field.help === undefined ? {} : { help: field.help, description: field.help }),
      ...(field.placeholder === undefined ? {} : { placeholder: field.placeholder }),
      ...(field.pattern === undefined ? {} : { pattern: field.pattern }),
    })),
  );
}

/** The OAuth credential names every OAuth account holds (Pipedream's `$auth` names). */
const OAUTH_CREDENTIAL_FIELDS = ['oauth_access_token', 'oauth_refresh_token', 'oauth_client_id', 'expires_at'] as const;

/**
 * The `$auth` property names an account of the app yields, names only: the fields the user
 * enters, and for OAuth apps the tokens plus the values kept from the token response and the
 * callback (Salesforce's instance_url, QuickBooks' realmId).
 */
export function credentialFieldsOf(app: RegistryApp): string[] {
  if (app.auth_type === 'none') return [];
  const names = app.fields.map((field) => field.name);
  if (app.auth_type === 'oauth') {
    names.push(...OAUTH_CREDENTIAL_FIELDS, ...Object.keys(app.oauth.token_response.extra), ...Object.keys(app.oauth.callback_params));
  }
  if (app.auth_type === 'oauth1') {
    names.push(...OAUTH1_CREDENTIAL_NAMES, ...Object.keys(OAUTH1_PIPEDREAM_NAMES), ...Object.keys(app.oauth1.token_response_extra));
  }
  if (app.auth_type === 'mcp') names.push(...OAUTH_CREDENTIAL_FIELDS);
  return [...new Set(names)];
}
