// The two requests of the OAuth 1.0a three-legged flow that latchkey makes itself (RFC 5849):
//   §2.1 temporary credentials: a signed POST with oauth_callback; the answer must confirm the
//        callback (oauth_callback_confirmed=true) and hold a request token and its secret;
//   §2.3 token credentials: a signed POST with the request token and oauth_verifier, signed with
//        the request token's secret; the answer holds the access token and its secret.
// Both go through the egress guard (https only, public addresses, no redirects: a 30x must not
// carry a signed request elsewhere), with a deadline and a small response cap. A failure is the
// provider's error with our own evidence (status, a parameter name), never a body: it may hold
// a token.
import { readCappedBody } from '../egress/body-limit.ts';
import { findEgressError } from '../egress/egress-error.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { ConnectFlowError } from '../errors.ts';
import { authorizationHeader, signedProtocolParameters, type OAuth1SignatureMethod } from '../crypto/oauth1-signature.ts';
import { fillRealm } from '../registry/oauth1-entry.ts';
import type { RegistryOAuth1 } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';

export const OAUTH1_REQUEST_TIMEOUT_MS = 10_000;
export const OAUTH1_RESPONSE_MAX_BYTES = 64 * 1024;

export interface OAuth1Consumer {
  readonly consumerKey: string;
  readonly consumerSecret: string;
}

export interface TokenPair {
  readonly token: string;
  readonly tokenSecret: string;
}

interface SignedPost {
  readonly method: 'POST' | 'GET';
  readonly paramsIn: 'header' | 'query';
  /** The Authorization header's realm, already filled (NetSuite's account ID). */
  readonly realm: string | undefined;
  readonly url: URL;
  readonly consumer: OAuth1Consumer;
  readonly token?: TokenPair;
  readonly oauthParams: Readonly<Record<string, string>>;
  readonly signatureMethod: OAuth1SignatureMethod;
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly timeoutMs?: number;
}

export interface RequestTokenStep {
  readonly oauth1: RegistryOAuth1;
  readonly consumer: OAuth1Consumer;
  readonly fields: Readonly<Record<string, string>>;
  /** Absolute, with our state in its query; the provider adds oauth_token and oauth_verifier (§2.2). */
  readonly callbackUrl: string;
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly timeoutMs?: number;
}

/** §2.1: the request token, bound to our callback. */
export async function obtainRequestToken(step: RequestTokenStep): Promise<TokenPair> {
  const url = endpoint(step.oauth1.request_token_url, step.fields);
  for (const [name, value] of Object.entries(step.oauth1.request_token_params)) url.searchParams.set(name, fillTemplate(value, step.fields, 'query'));
  const answer = await signedPost({
    ...transport(step.oauth1, step.fields),
    url,
    consumer: step.consumer,
    oauthParams: { oauth_callback: step.callbackUrl },
    signatureMethod: step.oauth1.signature_method,
    egress: step.egress,
    ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
  });
  // §2.1: "MUST be present and set to true"; without it the provider did not take our callback (OAuth 1.0 session fixation).
  if (answer.get('oauth_callback_confirmed') !== 'true') throw providerError('temporary credentials without oauth_callback_confirmed=true');
  return tokenPairOf(answer, 'temporary credentials');
}

export interface AccessTokenStep {
  readonly oauth1: RegistryOAuth1;
  readonly consumer: OAuth1Consumer;
  readonly fields: Readonly<Record<string, string>>;
  readonly requestToken: TokenPair;
  readonly verifier: string;
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly timeoutMs?: number;
}

export interface TokenCredentials extends TokenPair {
  /** The whole answer's other parameters (Evernote's edam_noteStoreUrl, X's screen_name), for the registry's paths. */
  readonly parameters: URLSearchParams;
}

/** §2.3: the token credentials, in exchange for the authorized request token and its verifier. */
export async function obtainTokenCredentials(step: AccessTokenStep): Promise<TokenCredentials> {
  const answer = await signedPost({
    ...transport(step.oauth1, step.fields),
    url: endpoint(step.oauth1.access_token_url, step.fields),
    consumer: step.consumer,
    token: step.requestToken,
    oauthParams: { oauth_verifier: step.verifier },
    signatureMethod: step.oauth1.signature_method,
    egress: step.egress,
    ...(step.timeoutMs === undefined ? {} : { timeoutMs: step.timeoutMs }),
  });
  return { ...tokenPairOf(answer, 'token credentials'), parameters: answer };
}

function endpoint(template: string, fields: Readonly<Record<string, string>>): URL {
  try {
    return new URL(fillTemplate(template, fields, 'url'));
  } catch {
    throw providerError('the OAuth 1.0a endpoint could not be built from the entry');
  }
}

function transport(oauth1: RegistryOAuth1, fields: Readonly<Record<string, string>>): Pick<SignedPost, 'method' | 'paramsIn' | 'realm'> {
  try {
    return { method: oauth1.token_request_method, paramsIn: oauth1.token_params_in, realm: fillRealm(oauth1.realm, fields) };
  } catch {
    throw providerError('the realm could not be built from the entered values');
  }
}

/** One signed request with an empty body (the protocol parameters in the Authorization header, §3.5.1, or the query, §3.5.3) and its form-encoded answer. */
async function signedPost(post: SignedPost): Promise<URLSearchParams> {
  const signed = signedProtocolParameters(
    { ...post.consumer, ...(post.token === undefined ? {} : { token: post.token.token, tokenSecret: post.token.tokenSecret }) },
    { method: post.method, url: post.url, extraOAuthParams: post.oauthParams, signatureMethod: post.signatureMethod },
  );
  // §3.5.3: the same signed parameters in the query instead of the header (signed over the URL without them).
  const url = new URL(post.url);
  if (post.paramsIn === 'query') for (const [name, value] of Object.entries(signed)) url.searchParams.append(name, value);
  const authorization: Record<string, string> = post.paramsIn === 'header' ? { authorization: authorizationHeader(signed, post.realm) } : {};
  const timeoutMs = post.timeoutMs ?? OAUTH1_REQUEST_TIMEOUT_MS;
  let status: number;
  let body: Buffer;
  try {
    const response = await post.egress.request(url, {
      method: post.method,
      headers: {
        ...authorization,
        accept: 'application/x-www-form-urlencoded',
        'user-agent': 'latchkey',
        ...(post.method === 'POST' ? { 'content-length': '0' } : {}),
      },
      body: null,
      timeouts: { firstByteMs: timeoutMs, totalMs: timeoutMs },
      maxResponseBytes: OAUTH1_RESPONSE_MAX_BYTES,
    });
    status = response.statusCode;
    body = await readCappedBody(response.body, OAUTH1_RESPONSE_MAX_BYTES, response.deadline);
  } catch (err) {
    const egressError = findEgressError(err);
    throw new ConnectFlowError('provider_error', {
      cause: egressError ?? new Error(`OAuth 1.0a request failed: ${err instanceof Error ? err.name : 'error'}`),
    });
  }
  if (status < 200 || status > 299) throw providerError(`OAuth 1.0a request answered status ${status}`);
  return new URLSearchParams(body.toString('utf8'));
}

function tokenPairOf(answer: URLSearchParams, what: string): TokenPair {
  const token = answer.get('oauth_token');
  const tokenSecret = answer.get('oauth_token_secret');
  // An HTML page or JSON error parses as form data without these: the provider's error, not ours.
  if (token === null || token === '' || token.length > 4096) throw providerError(`${what} without oauth_token`);
  if (tokenSecret === null || tokenSecret.length > 4096) throw providerError(`${what} without oauth_token_secret`);
  return { token, tokenSecret };
}

const providerError = (evidence: string): ConnectFlowError => new ConnectFlowError('provider_error', { cause: new Error(evidence) });
