// The rules a JSON Schema cannot express, run on a file that already passed the schema. Each
// returns problems as JSON pointers into the file, so an operator can find the line. The API
// side (api, api.auth, test_request) is in api-checks.ts.
import { checkApi, checkTestRequest, type CredentialNames } from './api-checks.ts';
import { OAUTH1_CREDENTIAL_NAMES, OAUTH1_SECRET_CREDENTIALS, checkOAuth1 } from './oauth1-entry.ts';
import { ProblemList, escapePointer, type Problem } from './check-helpers.ts';
import { checkGrant } from './machine-grant-checks.ts';
import type { AppDefinition, FieldDefinition, McpAppDefinition, OAuthDefinition } from './schema.ts';
import { templatePlaceholders } from './templates.ts';
import { checkTokenEndpointVariants } from './variant-checks.ts';

export type { Problem } from './check-helpers.ts';

export interface CrossCheckOptions {
  /** The slug the file name implies (`acme.yaml` → `acme`). */
  readonly expectedSlug: string;
  /** LATCHKEY_INSECURE_LOOPBACK: allows http: for 127.0.0.1, localhost and [::1]. */
  readonly insecureLoopback: boolean;
}

/** Credential names latchkey fills itself (Pipedream's names); an app may not redefine them. */
export const RESERVED_CREDENTIAL_NAMES: ReadonlySet<string> = new Set([
  'oauth_access_token',
  'oauth_refresh_token',
  'oauth_client_id',
  'oauth_uid',
  'oauth_signer_uri',
  'expires_at',
]);

// Parameters the connect flow sets itself. Letting a file override them would weaken the flow:
// `state` is the CSRF binding, `redirect_uri` must be exact, and PKCE is always S256 (RFC 9700
// §2.1.1 — `plain` offers no protection against a leaked authorization request).
const RESERVED_AUTHORIZE_PARAMS = new Set(['client_id', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method']);
const RESERVED_TOKEN_PARAMS = new Set(['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret', 'refresh_token']);

export function crossCheck(app: AppDefinition, options: CrossCheckOptions): Problem[] {
  const problems = new ProblemList(options.insecureLoopback);
  checkIdentity(app, options.expectedSlug, problems);
  checkFields(app.fields ?? [], problems);
  checkScopeProfiles(app, problems);
  if (app.docs !== undefined) problems.url('/docs', app.docs, { page: true });
  if (app.img_src !== undefined) problems.url('/img_src', app.img_src, { page: true });
  const names = credentialNames(app);
  if (app.auth_type === 'oauth') {
    checkOAuth(app.oauth, names, problems);
    checkGrant(app, problems);
    checkTokenEndpointVariants(app.oauth, problems);
  }
  if (app.auth_type === 'oauth1') checkOAuth1(app.oauth1, names.fields, RESERVED_CREDENTIAL_NAMES, problems);
  if (app.auth_type === 'mcp') checkMcp(app, problems);
  checkApi(app, names, problems);
  checkTestRequest(app, names, problems);
  return problems.problems;
}

function checkIdentity(app: AppDefinition, expectedSlug: string, problems: ProblemList): void {
  if (app.slug !== expectedSlug) problems.add('/slug', `must equal the file name (${expectedSlug}), found ${app.slug}`);
  if (app.slug.startsWith('app_')) problems.add('/slug', 'must not start with app_ (reserved for app ids)');
}

function checkFields(fields: readonly FieldDefinition[], problems: ProblemList): void {
  const names = new Set(fields.map((field) => field.name));
  const seen = new Set<string>();
  const aliasOwner = new Map<string, string>();
  fields.forEach((field, i) => {
    const pointer = `/fields/${i}`;
    if (seen.has(field.name)) problems.add(`${pointer}/name`, `duplicate field name ${field.name}`);
    seen.add(field.name);
    if (RESERVED_CREDENTIAL_NAMES.has(field.name)) problems.add(`${pointer}/name`, `${field.name} is a credential name latchkey sets itself`);
    if (field.pattern !== undefined) {
      try {
        new RegExp(field.pattern, 'u');
      } catch (err) {
        problems.add(`${pointer}/pattern`, `is not a valid regular expression (${(err as Error).message})`);
      }
    }
    checkChoices(field, pointer, problems);
    (field.aliases ?? []).forEach((alias, j) => {
      const at = `${pointer}/aliases/${j}`;
      if (names.has(alias)) problems.add(at, `${alias} is the name of a field`);
      else if (aliasOwner.has(alias)) problems.add(at, `${alias} is already an alias of ${aliasOwner.get(alias)}`);
      else if (RESERVED_CREDENTIAL_NAMES.has(alias)) problems.add(at, `${alias} is a credential name latchkey sets itself`);
      aliasOwner.set(alias, field.name);
    });
  });
}

/** A choice field is a closed list: its values are the only ones a user can send. */
function checkChoices(field: FieldDefinition, pointer: string, problems: ProblemList): void {
  if (field.choices === undefined) {
    if (field.default !== undefined) problems.add(`${pointer}/default`, 'needs choices (a default is one of them)');
    return;
  }
  if (field.pattern !== undefined) problems.add(`${pointer}/pattern`, 'cannot be combined with choices (the choices are the pattern)');
  const values = new Set<string>();
  field.choices.forEach((choice, j) => {
    if (values.has(choice.value)) problems.add(`${pointer}/choices/${j}/value`, `duplicate choice ${choice.value}`);
    values.add(choice.value);
  });
  if (field.default !== undefined && !values.has(field.default)) problems.add(`${pointer}/default`, `${field.default} is not one of the choices`);
}

function checkScopeProfiles(app: AppDefinition, problems: ProblemList): void {
  const profileNames = new Set<string>();
  (app.auth_type === 'oauth' ? (app.scope_profiles ?? []) : []).forEach((profile, i) => {
    if (profileNames.has(profile.name)) problems.add(`/scope_profiles/${i}/name`, `duplicate scope profile ${profile.name}`);
    profileNames.add(profile.name);
  });
  if (app.auth_type !== 'oauth') return;
  // A description of a scope the entry never requests is a typo that would silently show nothing.
  const requestable = new Set([...app.oauth.scopes, ...(app.scope_profiles ?? []).flatMap((profile) => profile.scopes)]);
  for (const scope of Object.keys(app.oauth.scope_descriptions ?? {})) {
    if (!requestable.has(scope)) problems.add(`/oauth/scope_descriptions/${scope}`, `${scope} is not a scope of this entry or its profiles`);
  }
}

/** The names a template may use, by where they come from. */
function credentialNames(app: AppDefinition): CredentialNames {
  const fields = new Set((app.fields ?? []).map((field) => field.name));
  const secrets = new Set((app.fields ?? []).filter((field) => field.secret === true).map((field) => field.name));
  const kept = new Set<string>();
  if (app.auth_type === 'oauth') {
    for (const name of [...Object.keys(app.oauth.token_response?.extra ?? {}), ...Object.keys(app.oauth.callback_params ?? {})]) kept.add(name);
  }
  if (app.auth_type === 'oauth1') {
    for (const name of Object.keys(app.oauth1.token_response_extra ?? {})) kept.add(name);
    for (const name of OAUTH1_SECRET_CREDENTIALS) secrets.add(name);
  }
  const tokens = app.auth_type === 'oauth' || app.auth_type === 'mcp';
  if (tokens) secrets.add('oauth_access_token');
  // oauth_client_id is stored with every OAuth account: some APIs want the app's id beside the token (Twitch's Client-Id, Etsy's x-api-key).
  const all = new Set([
    ...fields,
    ...kept,
    ...(tokens ? ['oauth_access_token', 'oauth_client_id'] : []),
    ...(app.auth_type === 'oauth1' ? OAUTH1_CREDENTIAL_NAMES : []),
  ]);
  return { fields, kept, secrets, all };
}

/**
 * An MCP server is reached at its URL only: no fields (nothing is templated into a URL that is
 * also the RFC 8707 resource), and the proxy's API is the server itself (normalize.ts).
 */
function checkMcp(app: McpAppDefinition, problems: ProblemList): void {
  problems.url('/mcp/server_url', app.mcp.server_url);
  if (templatePlaceholders(app.mcp.server_url).length > 0) problems.add('/mcp/server_url', 'cannot hold placeholders: it is the RFC 8707 resource');
  if ((app.fields ?? []).length > 0) problems.add('/fields', 'is not used by mcp apps (the server URL is fixed)');
  if (app.api !== undefined) problems.add('/api', 'is not used by mcp apps (the API is the server at mcp.server_url)');
  // Reserved in the format, not offered yet: its token requests are a public client's, which the token endpoint code cannot send.
  if (app.mcp.registration === 'client_id_metadata_document')
    problems.add('/mcp/registration', 'client_id_metadata_document is not supported yet: use dynamic or preregistered');
}

function checkOAuth(oauth: OAuthDefinition, names: CredentialNames, problems: ProblemList): void {
  const fieldsOnly = 'a declared field';
  for (const key of ['authorize_url', 'token_url', 'refresh_url', 'revoke_url', 'issuer'] as const) {
    const template = oauth[key];
    if (template === undefined) continue;
    problems.placeholders(`/oauth/${key}`, template, names.fields, fieldsOnly);
    problems.url(`/oauth/${key}`, template);
  }
  const paramMaps = [
    ['authorize_params', oauth.authorize_params, RESERVED_AUTHORIZE_PARAMS],
    ['token_params', oauth.token_params, RESERVED_TOKEN_PARAMS],
    ['refresh_params', oauth.refresh_params, RESERVED_TOKEN_PARAMS],
  ] as const;
  for (const [key, params, reserved] of paramMaps) {
    for (const [name, value] of Object.entries(params ?? {})) {
      const pointer = `/oauth/${key}/${escapePointer(name)}`;
      if (reserved.has(name.toLowerCase())) problems.add(pointer, `${name} is set by latchkey and cannot be overridden`);
      problems.placeholders(pointer, value, names.fields, fieldsOnly);
    }
  }
  if (oauth.scope_param !== undefined && RESERVED_AUTHORIZE_PARAMS.has(oauth.scope_param)) {
    problems.add('/oauth/scope_param', `${oauth.scope_param} is set by latchkey and cannot carry scopes`);
  }
  const seen = new Set(names.fields);
  const kept = [
    ['token_response/extra', Object.keys(oauth.token_response?.extra ?? {})],
    ['callback_params', Object.keys(oauth.callback_params ?? {})],
  ] as const;
  for (const [key, keptNames] of kept) {
    for (const name of keptNames) {
      const pointer = `/oauth/${key}/${name}`;
      if (RESERVED_CREDENTIAL_NAMES.has(name)) problems.add(pointer, `${name} is a credential name latchkey sets itself`);
      else if (seen.has(name)) problems.add(pointer, `${name} is already a credential of this app`);
      seen.add(name);
    }
  }
}
