// The JWT bearer grant (RFC 7523 §2.1) as named steps: the template values (the user's fields,
// plus the members of a JSON key file such as a Google service-account key), the signing key
// (RS256 or ES256 only: never `none`, never an HMAC with a guessable secret), the claims (RFC
// 7523 §3: iss, sub, aud, exp, iat and a fresh jti, plus the entry's own), the signature, and
// the one token request. A new assertion is signed for every request: one is never stored,
// and a short lifetime makes a leaked one useless soon.
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { RegistryAssertion, RegistryOAuthApp } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import { clientOf, scopeParam, tokenUrlOf, type MintRequest } from './client-credentials-grant.ts';
import { requestMachineToken, type ClientAuthentication, type MintOutcome } from './machine-token-request.ts';

export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** Why the user's key material cannot make an assertion (a code, never a value): nothing was sent. */
export type KeyProblem = 'invalid_key_file' | 'invalid_private_key' | 'key_algorithm_mismatch' | 'claim_unfillable';

export async function mintJwtBearerToken(request: MintRequest): Promise<MintOutcome> {
  const assertion = request.app.oauth.assertion;
  if (assertion === undefined) return { kind: 'refused', status: 0, code: 'assertion_missing' };
  const signed = await signAssertion(request.app, assertion, request);
  if (typeof signed !== 'string') return { kind: 'refused', status: 0, code: signed.problem };
  const url = tokenUrlOf({ app: request.app, values: templateValuesOf(assertion, request.values) ?? request.values });
  if (url === undefined) return { kind: 'refused', status: 0, code: 'token_url_unfillable' };
  return requestMachineToken({
    oauth: request.app.oauth,
    url,
    params: { grant_type: JWT_BEARER_GRANT_TYPE, assertion: signed, ...(assertion.scope_claim ? {} : scopeParam(request)) },
    values: request.values,
    client: clientAuthentication(request),
    egress: request.egress,
    ...(request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs }),
    ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }),
  });
}

/** Signs one assertion for this request, or says why the key material cannot. */
export async function signAssertion(
  app: RegistryOAuthApp,
  assertion: RegistryAssertion,
  request: Pick<MintRequest, 'values' | 'scopes' | 'now' | 'operatorClient'>,
): Promise<string | { problem: KeyProblem }> {
  const values = templateValuesOf(assertion, withOperatorClientId(request));
  if (values === undefined) return { problem: 'invalid_key_file' };
  const key = signingKeyOf(assertion, values);
  if ('problem' in key) return key;
  const claims = claimsOf(app, assertion, values, request);
  if (claims === undefined) return { problem: 'claim_unfillable' };
  const header = { alg: assertion.algorithm, typ: 'JWT', ...keyIdOf(assertion, values) };
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

/** An entry on the project's OAuth app may name its client id in claims (`{oauth_client_id}`: DocuSign's integration key). */
function withOperatorClientId(request: Pick<MintRequest, 'values' | 'operatorClient'>): Readonly<Record<string, string>> {
  return request.operatorClient === undefined ? request.values : { ...request.values, oauth_client_id: request.operatorClient.clientId };
}

/** Step: the fields, then the key file's string members where no field has the name (undefined: the key file is not a JSON object). */
export function templateValuesOf(assertion: RegistryAssertion, values: Readonly<Record<string, string>>): Readonly<Record<string, string>> | undefined {
  if (assertion.key_file === undefined) return values;
  const raw = values[assertion.key_file];
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const merged: Record<string, string> = {};
  for (const member of assertion.key_file_members) {
    const value = (parsed as Record<string, unknown>)[member];
    if (typeof value === 'string') merged[member] = value;
  }
  return { ...merged, ...values };
}

/** Step: the private key, of the type the algorithm needs (RSA for RS256, P-256 for ES256). */
export function signingKeyOf(assertion: RegistryAssertion, values: Readonly<Record<string, string>>): KeyObject | { problem: KeyProblem } {
  const name = /^\{([A-Za-z][A-Za-z0-9_]*)\}$/.exec(assertion.private_key.trim())?.[1];
  const pem = name === undefined ? undefined : values[name];
  if (pem === undefined || pem === '') return { problem: 'invalid_private_key' };
  let key: KeyObject;
  try {
    const passphrase = assertion.passphrase === undefined ? undefined : fillOptional(assertion.passphrase, values);
    key = createPrivateKey({ key: normalisePem(pem), format: 'pem', ...(passphrase === undefined || passphrase === '' ? {} : { passphrase }) });
  } catch {
    return { problem: 'invalid_private_key' };
  }
  const fits =
    assertion.algorithm === 'RS256'
      ? key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048
      : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  return fits ? key : { problem: 'key_algorithm_mismatch' };
}

/**
 * A PEM as users paste it: a one-line form field drops the line breaks, and a key copied out of
 * a JSON file may still hold literal `\n`. The base64 body is re-wrapped at 64 characters
 * (RFC 7468 §2) between its own BEGIN/END labels.
 */
export function normalisePem(text: string): string {
  const unescaped = text.replace(/\\n/g, '\n');
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(unescaped);
  if (match === null) return unescaped;
  const body = match[2]!.replace(/\s+/g, '');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${match[1]}-----\n${lines.join('\n')}\n-----END ${match[1]}-----\n`;
}

/** Step: RFC 7523 §3's claims; undefined when a template cannot be filled (a missing or unfit value). */
export function claimsOf(
  app: RegistryOAuthApp,
  assertion: RegistryAssertion,
  values: Readonly<Record<string, string>>,
  request: Pick<MintRequest, 'scopes' | 'now'>,
): Record<string, string | number> | undefined {
  try {
    const iat = Math.floor(request.now.getTime() / 1000);
    const claims: Record<string, string | number> = {};
    for (const [name, template] of Object.entries(assertion.claims)) claims[name] = fill(template, values);
    if (assertion.scope_claim) claims['scope'] = request.scopes.join(app.oauth.scope_separator);
    claims['iss'] = fill(assertion.iss, values);
    const sub = assertion.sub === undefined ? '' : fillOptional(assertion.sub, values);
    if (sub !== '') claims['sub'] = sub;
    claims['aud'] = fill(assertion.aud, values);
    claims['iat'] = iat;
    claims['exp'] = iat + assertion.lifetime_seconds;
    // §3 item 7: a unique id lets the provider refuse a replayed assertion.
    claims['jti'] = randomUUID();
    return claims;
  } catch {
    return undefined;
  }
}

function keyIdOf(assertion: RegistryAssertion, values: Readonly<Record<string, string>>): { kid?: string } {
  if (assertion.key_id === undefined) return {};
  const kid = fillOptional(assertion.key_id, values);
  return kid === '' ? {} : { kid };
}

/** Header context: a control character (a line break) in a claim value is refused. */
const fill = (template: string, values: Readonly<Record<string, string>>): string => fillTemplate(template, values, 'header');

/** A template whose placeholders are all empty or absent fills to '' (an optional sub). */
function fillOptional(template: string, values: Readonly<Record<string, string>>): string {
  try {
    return fill(template, values);
  } catch {
    return '';
  }
}

/** Step: the assertion authenticates the client (Google, Salesforce, DocuSign); an entry with a client (Box) sends it too. */
function clientAuthentication(request: MintRequest): ClientAuthentication {
  const hasEnteredClient = request.app.oauth.client === 'entered' && request.values['client_id'] !== undefined && request.values['client_secret'] !== undefined;
  if (request.app.oauth.client === 'oauth_app' || hasEnteredClient) return clientOf(request) ?? { method: 'none' };
  return { method: 'none' };
}
