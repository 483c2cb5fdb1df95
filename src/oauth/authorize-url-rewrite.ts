// The authorization request respelled for providers that do not take RFC 6749's spelling of it
// (registry `oauth.authorize_url_rewrite`). Nango does this with string replacement on the whole
// URL; here each change is a named step on latchkey's own parameters of a URL already built, so
// it can rename or drop only client_id, redirect_uri and response_type (never state or PKCE, never
// a value a user typed) and move the finished query behind a fragment route.
import type { RegistryAuthorizeUrlRewrite } from '../registry/registry.ts';

/** A copy of `url` as the provider wants it; the same URL when the entry declares no rewrite. */
export function rewriteAuthorizeUrl(url: URL, rewrite: RegistryAuthorizeUrlRewrite): URL {
  const rewritten = new URL(url);
  omitStandardParams(rewritten, rewrite);
  renameStandardParams(rewritten, rewrite);
  moveQueryIntoFragment(rewritten, rewrite);
  return rewritten;
}

/** monday's legacy flow: a response_type parameter is refused, the code flow is implied. */
function omitStandardParams(url: URL, rewrite: RegistryAuthorizeUrlRewrite): void {
  for (const name of rewrite.omit_params) url.searchParams.delete(name);
}

/** TikTok's client_key, Printful's redirect_url: the value stays, in its place in the query order. */
function renameStandardParams(url: URL, rewrite: RegistryAuthorizeUrlRewrite): void {
  const renames = Object.entries(rewrite.rename_params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (renames.length === 0) return;
  const byName = new Map(renames);
  const respelled = new URLSearchParams();
  for (const [name, value] of url.searchParams) respelled.append(byName.get(name) ?? name, value);
  url.search = respelled.toString();
}

/**
 * Apollo's authorize page routes on the fragment (`/#/oauth/authorize?client_id=…`): the query
 * is already encoded, so the fragment holds it byte for byte.
 */
function moveQueryIntoFragment(url: URL, rewrite: RegistryAuthorizeUrlRewrite): void {
  if (rewrite.query_in_fragment === undefined) return;
  const query = url.search;
  url.search = '';
  url.hash = `${rewrite.query_in_fragment}${query}`;
}
