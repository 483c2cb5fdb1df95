// The loader's checks of the machine grants (client_credentials, RFC 6749 §4.4; jwt_bearer,
// RFC 7523 §2.1), beside the authorization-code checks in cross-checks.ts. What they guarantee
// the connect flow and the refresher: a client_credentials entry with an entered client has the
// two fields to authenticate with; a jwt_bearer entry has an assertion whose every placeholder
// is a declared field or key-file member, and whose key file (if any) is a secret field.
import { ProblemList, escapePointer } from './check-helpers.ts';
import type { AppDefinition, AssertionDefinition, FieldDefinition, OAuthDefinition } from './schema.ts';

/** The field names an entered client is read from (Pipedream's `$auth` names for these apps). */
export const CLIENT_ID_FIELD = 'client_id';
export const CLIENT_SECRET_FIELD = 'client_secret';

export function checkGrant(app: AppDefinition & { auth_type: 'oauth' }, problems: ProblemList): void {
  const oauth = app.oauth;
  const grant = oauth.grant ?? 'authorization_code';
  const fields = app.fields ?? [];
  if (grant === 'authorization_code') {
    if (oauth.authorize_url === undefined) problems.add('/oauth/authorize_url', 'is required for the authorization_code grant');
    if (oauth.client !== undefined)
      problems.add('/oauth/client', 'applies to client_credentials and jwt_bearer only (authorization_code always uses the OAuth app)');
    if (oauth.assertion !== undefined) problems.add('/oauth/assertion', 'applies to the jwt_bearer grant only');
    return;
  }
  checkNotAuthorizing(oauth, problems);
  if (grant === 'client_credentials') {
    if (oauth.assertion !== undefined) problems.add('/oauth/assertion', 'applies to the jwt_bearer grant only');
    if ((oauth.client ?? 'entered') === 'entered') {
      requireField(fields, CLIENT_ID_FIELD, false, problems);
      requireField(fields, CLIENT_SECRET_FIELD, true, problems);
    }
    return;
  }
  if (oauth.assertion === undefined) {
    problems.add('/oauth/assertion', 'is required for the jwt_bearer grant');
    return;
  }
  checkAssertion(oauth.assertion, fields, oauth.client === 'oauth_app', problems);
}

/** Keys that only mean something when a browser comes back from the provider. */
function checkNotAuthorizing(oauth: OAuthDefinition, problems: ProblemList): void {
  const authorizingOnly = [
    'authorize_url',
    'authorize_params',
    'callback_params',
    'callback_code_param',
    'authorize_url_rewrite',
    'issuer',
    'scope_param',
  ] as const;
  for (const key of authorizingOnly) {
    if (oauth[key] !== undefined) problems.add(`/oauth/${key}`, `has no use in the ${oauth.grant} grant (there is no authorization step)`);
  }
}

function requireField(fields: readonly FieldDefinition[], name: string, secret: boolean, problems: ProblemList): void {
  const field = fields.find((f) => f.name === name);
  if (field === undefined) problems.add('/fields', `needs a field named ${name} (the client is entered by the user; or set oauth.client: oauth_app)`);
  else if (secret && field.secret !== true) problems.add(`/fields/${fields.indexOf(field)}/secret`, `${name} must be secret`);
}

function checkAssertion(assertion: AssertionDefinition, fields: readonly FieldDefinition[], operatorClient: boolean, problems: ProblemList): void {
  const names = new Set(fields.map((field) => field.name));
  // The project's OAuth app names its client id in claims (DocuSign's integration key as iss).
  if (operatorClient) names.add('oauth_client_id');
  if (assertion.key_file !== undefined) {
    const keyFile = fields.find((field) => field.name === assertion.key_file);
    if (keyFile === undefined) problems.add('/oauth/assertion/key_file', `${assertion.key_file} is not a declared field`);
    else if (keyFile.secret !== true) problems.add('/oauth/assertion/key_file', `${assertion.key_file} holds a private key and must be a secret field`);
    for (const member of assertion.key_file_members ?? []) names.add(member);
  } else if (assertion.key_file_members !== undefined) {
    problems.add('/oauth/assertion/key_file_members', 'needs key_file');
  }
  const what = 'a declared field or key file member';
  const templates: [string, string | undefined][] = [
    ['private_key', assertion.private_key],
    ['passphrase', assertion.passphrase],
    ['key_id', assertion.key_id],
    ['iss', assertion.iss],
    ['sub', assertion.sub],
    ['aud', assertion.aud],
    ...Object.entries(assertion.claims ?? {}).map(([name, value]): [string, string] => [`claims/${escapePointer(name)}`, value]),
  ];
  for (const [key, template] of templates) if (template !== undefined) problems.placeholders(`/oauth/assertion/${key}`, template, names, what);
  // The private key must come from the user's secret input, never from the registry file itself.
  const keySources = [...assertion.private_key.matchAll(/\{([A-Za-z][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
  if (assertion.private_key.trim() !== `{${keySources[0] ?? ''}}` || keySources.length !== 1) {
    problems.add('/oauth/assertion/private_key', 'must be exactly one placeholder (the field or key file member holding the key)');
  } else {
    const source = fields.find((field) => field.name === keySources[0]);
    if (source !== undefined && source.secret !== true)
      problems.add('/oauth/assertion/private_key', `${source.name} holds a private key and must be a secret field`);
  }
  for (const reserved of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti']) {
    if (assertion.claims?.[reserved] !== undefined) problems.add(`/oauth/assertion/claims/${reserved}`, `${reserved} is set by latchkey (or by its own key)`);
  }
  if (assertion.scope_claim === true && assertion.claims?.['scope'] !== undefined) problems.add('/oauth/assertion/claims/scope', 'conflicts with scope_claim');
}
