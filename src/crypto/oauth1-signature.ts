// OAuth 1.0a request signing (RFC 5849 §3), with Node's crypto only, as named steps:
//   1. the protocol parameters: consumer key, token, signature method, timestamp, a fresh nonce
//      (§3.3: 128 random bits, so a provider's replay check never sees one twice), version;
//   2. the signature base string (§3.4.1): method, base string URI, and the normalized
//      parameters — protocol parameters, query parameters and form-body parameters (only a body
//      of type application/x-www-form-urlencoded is signed, §3.4.1.3.1);
//   3. the signature (§3.4.2 HMAC-SHA1, HMAC-SHA256 as providers extend it, §3.4.3 RSA-SHA1 with
//      the consumer secret as a PEM private key, §3.4.4 PLAINTEXT — https only, checked by callers);
//   4. the Authorization header (§3.5.1).
// No database, no HTTP: the callers send the request.
import { createHmac, createSign, randomBytes } from 'node:crypto';

export type OAuth1SignatureMethod = 'HMAC-SHA1' | 'HMAC-SHA256' | 'RSA-SHA1' | 'PLAINTEXT';

export interface OAuth1Credentials {
  readonly consumerKey: string;
  /** HMAC and PLAINTEXT: the consumer secret; RSA-SHA1: the consumer's PEM private key. */
  readonly consumerSecret: string;
  /** Absent for the temporary-credential request (§2.1). */
  readonly token?: string;
  readonly tokenSecret?: string;
}

export interface OAuth1Request {
  readonly method: string;
  readonly url: URL;
  /** The decoded pairs of an application/x-www-form-urlencoded body; empty for any other body. */
  readonly formParams?: readonly (readonly [string, string])[];
  /** Protocol parameters of one step: oauth_callback (§2.1), oauth_verifier (§2.3). */
  readonly extraOAuthParams?: Readonly<Record<string, string>>;
  readonly signatureMethod: OAuth1SignatureMethod;
  /** §3.5.1: sent first in the header, never part of the signature (NetSuite's account ID). */
  readonly realm?: string;
  /** Tests pin these; otherwise now and 16 random bytes. */
  readonly timestamp?: number;
  readonly nonce?: string;
}

/** §3.6: unreserved characters stay, everything else is %XX of its UTF-8 bytes, hex in upper case. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** §3.4.1.2: scheme and host in lower case, the default port left out, no query, no fragment. */
export function baseStringUri(url: URL): string {
  return `${url.protocol.toLowerCase()}//${url.host.toLowerCase()}${url.pathname}`;
}

/** §3.4.1.3.2: encode each name and value, sort by name then value (byte order), join with & and =. */
export function normalizedParameters(params: readonly (readonly [string, string])[]): string {
  const encoded = params.map(([name, value]) => [percentEncode(name), percentEncode(value)] as const);
  encoded.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return encoded.map(([name, value]) => `${name}=${value}`).join('&');
}

export function signatureBaseString(method: string, url: URL, params: readonly (readonly [string, string])[]): string {
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalizedParameters(params))].join('&');
}

/** §3.4.2: the key is the encoded consumer secret and token secret joined by &, the token secret empty when there is none. */
export function computeSignature(
  method: OAuth1SignatureMethod,
  baseString: string,
  credentials: Pick<OAuth1Credentials, 'consumerSecret' | 'tokenSecret'>,
): string {
  const key = `${percentEncode(credentials.consumerSecret)}&${percentEncode(credentials.tokenSecret ?? '')}`;
  switch (method) {
    case 'HMAC-SHA1':
      return createHmac('sha1', key).update(baseString).digest('base64');
    case 'HMAC-SHA256':
      return createHmac('sha256', key).update(baseString).digest('base64');
    case 'RSA-SHA1':
      return createSign('RSA-SHA1').update(baseString).sign(credentials.consumerSecret, 'base64');
    case 'PLAINTEXT':
      return key;
  }
}

/** Step 1: the protocol parameters of this request, before the signature. */
export function protocolParameters(credentials: OAuth1Credentials, request: OAuth1Request): Record<string, string> {
  return {
    oauth_consumer_key: credentials.consumerKey,
    oauth_nonce: request.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: request.signatureMethod,
    oauth_timestamp: String(request.timestamp ?? Math.floor(Date.now() / 1000)),
    oauth_version: '1.0',
    ...(credentials.token === undefined ? {} : { oauth_token: credentials.token }),
    ...request.extraOAuthParams,
  };
}

/** The protocol parameters with their signature (for §3.5.3 query transport, or the header below). */
export function signedProtocolParameters(credentials: OAuth1Credentials, request: OAuth1Request): Record<string, string> {
  const oauthParams = protocolParameters(credentials, request);
  const signed: (readonly [string, string])[] = [...Object.entries(oauthParams), ...request.url.searchParams, ...(request.formParams ?? [])];
  const base = signatureBaseString(request.method, request.url, signed);
  return { ...oauthParams, oauth_signature: computeSignature(request.signatureMethod, base, credentials) };
}

/** The request's Authorization header value: `OAuth` and the signed protocol parameters (§3.5.1). */
export function signRequest(credentials: OAuth1Credentials, request: OAuth1Request): string {
  return authorizationHeader(signedProtocolParameters(credentials, request), request.realm);
}

/** §3.5.1: `OAuth name="value", …`, names and values percent-encoded. */
export function authorizationHeader(oauthParams: Readonly<Record<string, string>>, realm?: string): string {
  const params = Object.entries(oauthParams).map(([name, value]) => `${percentEncode(name)}="${percentEncode(value)}"`);
  // The realm is a quoted-string of RFC 2617 §1.2, not percent-encoded (the registry refuses quotes in it).
  return `OAuth ${[...(realm === undefined ? [] : [`realm="${realm}"`]), ...params].join(', ')}`;
}

/** The pairs of a form body as §3.4.1.3.1 reads them (`+` is a space, as in HTML forms). */
export function formBodyParameters(body: string): [string, string][] {
  return [...new URLSearchParams(body)];
}
