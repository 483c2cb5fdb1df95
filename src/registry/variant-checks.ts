// The loader's checks of the token-endpoint variants (oauth.callback_code_param,
// oauth.authorize_url_rewrite, oauth.token_param_names): names that would collide with a
// parameter the flow relies on, or that would make a callback ambiguous, stop the start.
import { escapePointer, type ProblemList } from './check-helpers.ts';
import type { OAuthDefinition } from './schema.ts';

/** Callback parameters the flow reads itself (RFC 6749 §4.1.2, RFC 9207): the code cannot arrive in one of them. */
const CALLBACK_PARAMS_OF_THE_FLOW = new Set(['state', 'iss', 'error', 'error_description', 'error_uri']);

/** What the authorization request carries besides the renamable three: no rename may land on one. */
const FIXED_AUTHORIZE_PARAMS = ['state', 'code_challenge', 'code_challenge_method'];

export function checkTokenEndpointVariants(oauth: OAuthDefinition, problems: ProblemList): void {
  checkCallbackCodeParam(oauth, problems);
  checkAuthorizeUrlRewrite(oauth, problems);
  checkTokenParamNames(oauth, problems);
}

/** What a token request carries besides the client's credentials (RFC 6749 §4.1.3, §6; RFC 7636 §4.5). */
const TOKEN_REQUEST_PARAMS = ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope'];

function checkTokenParamNames(oauth: OAuthDefinition, problems: ProblemList): void {
  const names = oauth.token_param_names;
  if (names === undefined) return;
  // With HTTP Basic the credentials travel in the Authorization header, under no name at all.
  if ((oauth.token_auth_method ?? 'client_secret_basic') !== 'client_secret_post') {
    problems.add('/oauth/token_param_names', 'needs token_auth_method client_secret_post (with Basic the credentials carry no parameter name)');
  }
  const taken = new Set([...TOKEN_REQUEST_PARAMS, ...Object.keys(oauth.token_params ?? {}), ...Object.keys(oauth.refresh_params ?? {})]);
  const idName = names.client_id ?? 'client_id';
  const secretName = names.client_secret ?? 'client_secret';
  for (const [key, name] of [
    ['client_id', names.client_id],
    ['client_secret', names.client_secret],
  ] as const) {
    if (name === undefined) continue;
    if (taken.has(name)) problems.add(`/oauth/token_param_names/${key}`, `${name} is already a parameter of the token request`);
  }
  if (idName === secretName) problems.add('/oauth/token_param_names', 'client_id and client_secret cannot travel under one name');
}

function checkCallbackCodeParam(oauth: OAuthDefinition, problems: ProblemList): void {
  const param = oauth.callback_code_param;
  if (param === undefined) return;
  if (CALLBACK_PARAMS_OF_THE_FLOW.has(param.toLowerCase()))
    problems.add('/oauth/callback_code_param', `${param} is read by latchkey itself and cannot carry the code`);
  // The same parameter kept as a credential would store the (spent) code beside the tokens.
  if (Object.values(oauth.callback_params ?? {}).includes(param)) problems.add('/oauth/callback_code_param', `${param} is also listed in callback_params`);
}

function checkAuthorizeUrlRewrite(oauth: OAuthDefinition, problems: ProblemList): void {
  const rewrite = oauth.authorize_url_rewrite;
  if (rewrite === undefined) return;
  const renames = Object.entries(rewrite.rename_params ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
  // Every other name the request will carry: a rename onto one of them would send it twice.
  const taken = new Set([
    ...FIXED_AUTHORIZE_PARAMS,
    oauth.scope_param ?? 'scope',
    ...Object.keys(oauth.authorize_params ?? {}),
    ...['client_id', 'redirect_uri', 'response_type'].filter((name) => !renames.some(([from]) => from === name)),
  ]);
  const targets = new Set<string>();
  for (const [from, to] of renames) {
    const pointer = `/oauth/authorize_url_rewrite/rename_params/${escapePointer(from)}`;
    if (to === from) problems.add(pointer, `renames ${from} to itself`);
    else if (taken.has(to) || targets.has(to)) problems.add(pointer, `${to} is already a parameter of the authorization request`);
    targets.add(to);
  }
  for (const [i, omitted] of (rewrite.omit_params ?? []).entries()) {
    if (renames.some(([from]) => from === omitted))
      problems.add(`/oauth/authorize_url_rewrite/omit_params/${i}`, `${omitted} cannot be both renamed and omitted`);
  }
  // query_in_fragment needs no check of its own here: no registry URL may carry a fragment
  // (ProblemList.url), so the route is never written over one.
}
