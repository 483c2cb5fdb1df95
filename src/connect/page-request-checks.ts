// Where a form post of the hosted pages comes from (forced account linking, security catalogue
// 56). A page on any site can auto-submit a form to us with the attacker's own connect token;
// the victim's browser would then link the victim's account to the attacker's end user. Each
// step below refuses one way such a post shows itself, in this order:
//   checkFetchSite  — the browser says the post came from another origin (Sec-Fetch-Site);
//   checkOrigin     — the browser names another origin (Origin; `null` says nothing: our pages
//                     send Referrer-Policy: no-referrer, so Chromium sends `Origin: null` on them);
//   checkFormToken  — the post carries no form token minted for this connect token in this browser.
// `127.0.0.1:<another port>` is same-site but not same-origin: only same-origin passes.
import { flowError } from '../errors.ts';
import { formTokenMatches, isFormTokenShaped } from '../oauth/form-token.ts';

export interface PageRequestEvidence {
  /** Sec-Fetch-Site, as the browser sent it (undefined: an older browser, or not a browser). */
  readonly fetchSite: string | undefined;
  readonly origin: string | undefined;
  /** The page's hidden `form_token`. */
  readonly formToken: string | undefined;
  /** The browser binding cookie's nonce, when the browser sent one. */
  readonly bindingNonce: string | undefined;
}

/** `same-origin` (our own page) or `none` (the user acted: a bookmark, the address bar): nothing else. */
export function checkFetchSite(evidence: Pick<PageRequestEvidence, 'fetchSite'>): void {
  const site = evidence.fetchSite;
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw flowError('request_cross_site', new Error(`form post with Sec-Fetch-Site ${site.slice(0, 20)}`));
  }
}

export function checkOrigin(evidence: Pick<PageRequestEvidence, 'origin'>, publicOrigin: string): void {
  const origin = evidence.origin;
  if (origin === undefined || origin === 'null' || origin === publicOrigin) return;
  throw flowError('request_cross_site', new Error('form post from another origin'));
}

/**
 * The token must have been minted for this connect token in the browser holding the binding
 * cookie. One exception, where the browser itself vouches for the page: a same-origin post
 * without a matching cookie, which is what a page framed by another site sends (the browser
 * keeps no SameSite=Lax cookie of a cross-site frame), as long as it carries a page's token.
 */
export function checkFormToken(evidence: PageRequestEvidence, connectTokenDigest: Buffer): void {
  if (formTokenMatches(evidence.formToken, evidence.bindingNonce, connectTokenDigest)) return;
  if (evidence.fetchSite === 'same-origin' && isFormTokenShaped(evidence.formToken)) return;
  throw flowError(
    'form_token_invalid',
    new Error(evidence.formToken === undefined ? 'form post without a form token' : 'form token not minted in this browser'),
  );
}
