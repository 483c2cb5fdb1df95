// The consumer credentials of an OAuth 1.0a account: the project's OAuth app the account was
// connected with (client id = consumer key, client secret = consumer secret or, for RSA-SHA1,
// the PEM private key). Every signed request needs the secret, so the proxy and the account
// checks look it up per request through RecentOAuthClients (the row is read each time, so a
// rotated secret is used at once; the secret is opened again only when the row changed).
import type { RegistryApp } from '../registry/registry.ts';
import type { OAuth1Signing } from '../registry/oauth1-request-signing.ts';
import type { RecentOAuthClients } from './oauth-apps.service.ts';

export type OAuthClientLookup = Pick<RecentOAuthClients, 'resolve'>;

export interface OAuth1AccountRef {
  readonly project_id: string;
  readonly app_slug: string;
  readonly oauth_app_id: string | null;
}

/** What a signature needs from the OAuth app; undefined for an app that is not OAuth 1.0a or whose OAuth app is gone. */
export async function oauth1SigningOf(
  clients: OAuthClientLookup | undefined,
  app: RegistryApp,
  account: OAuth1AccountRef,
): Promise<Pick<OAuth1Signing, 'consumerSecret' | 'signatureMethod' | 'realm'> | undefined> {
  if (app.auth_type !== 'oauth1' || clients === undefined || account.oauth_app_id === null) return undefined;
  const client = await clients.resolve(account.project_id, account.app_slug, account.oauth_app_id);
  if (client === undefined) return undefined;
  const { signature_method: signatureMethod, realm } = app.oauth1;
  return { consumerSecret: client.clientSecret, signatureMethod, ...(realm === undefined ? {} : { realm }) };
}
