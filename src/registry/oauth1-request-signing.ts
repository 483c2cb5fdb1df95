// api.auth type oauth1: the credential is a signature over this very request (RFC 5849 §3), so
// unlike the other injections it depends on the method, the URL with its query and a form body.
// The account holds the token and its secret and the consumer key; the consumer secret stays with
// the project's OAuth app and is handed in by the caller for each request (never stored with the
// account, never returned by the credential fetch).
import { signRequest, type OAuth1SignatureMethod } from '../crypto/oauth1-signature.ts';
import { fillRealm } from './oauth1-entry.ts';

/** What a signature needs besides the account's values: the request itself and the consumer secret. */
export interface OAuth1Signing {
  readonly method: string;
  /** The decoded pairs of an application/x-www-form-urlencoded body (§3.4.1.3.1); empty otherwise. */
  readonly formParams: readonly (readonly [string, string])[];
  readonly consumerSecret: string;
  readonly signatureMethod: OAuth1SignatureMethod;
  /** The entry's realm template (NetSuite's account ID), filled from the account's values. */
  readonly realm?: string;
}

export type OAuth1SigningOutcome =
  | { readonly ok: true; readonly authorization: string }
  | { readonly ok: false; readonly code: 'credential_missing' | 'credential_invalid'; readonly placeholder?: string };

/** The Authorization header for this request, or the account value that is missing. */
export function oauth1Authorization(values: Readonly<Record<string, string | null | undefined>>, url: URL, signing: OAuth1Signing): OAuth1SigningOutcome {
  const token = values['oauth_token'];
  const tokenSecret = values['oauth_token_secret'];
  const consumerKey = values['oauth_consumer_key'];
  if (consumerKey === undefined || consumerKey === null || consumerKey === '')
    return { ok: false, code: 'credential_missing', placeholder: 'oauth_consumer_key' };
  if (token === undefined || token === null || token === '') return { ok: false, code: 'credential_missing', placeholder: 'oauth_token' };
  if (tokenSecret === undefined || tokenSecret === null) return { ok: false, code: 'credential_missing', placeholder: 'oauth_token_secret' };
  let realm: string | undefined;
  try {
    realm = fillRealm(signing.realm, values);
  } catch {
    return { ok: false, code: 'credential_invalid' };
  }
  const authorization = signRequest(
    { consumerKey, consumerSecret: signing.consumerSecret, token, tokenSecret },
    { method: signing.method, url, formParams: signing.formParams, signatureMethod: signing.signatureMethod, ...(realm === undefined ? {} : { realm }) },
  );
  return { ok: true, authorization };
}
