// Headers of every hosted page. The CSP allows only our own nonce'd script and style, no other
// fetches, forms that post to us (plus, where a form's 303 leads to a provider, that provider:
// Chromium applies form-action to the redirect too), and framing only by the connect token's
// allowed_origins. Nothing is cached and no Referer leaves the page (the URL holds the token).
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

export interface PageSecurity {
  /** Fresh per response; goes into the CSP and the <script>/<style> tags. */
  readonly nonce: string;
  /** Extra form-action sources (provider origins), already validated by cspSourceForUrl. */
  readonly formActions: readonly string[];
  /** Origins that may frame the page (the token's allowed_origins); none → 'none'. */
  readonly frameAncestors: readonly string[];
}

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function pageSecurity(options: { formActions?: readonly string[]; frameAncestors?: readonly string[] } = {}): PageSecurity {
  return {
    nonce: newNonce(),
    formActions: (options.formActions ?? []).filter(isCspSource),
    frameAncestors: (options.frameAncestors ?? []).filter(isWebOrigin),
  };
}

/** `https://a.example[:port]` exactly (what URL.origin gives back); nothing a header could abuse. */
export function isWebOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

const CSP_SOURCE = /^(https?:\/\/(\*\.)?[a-z0-9.-]+(:\d{1,5})?|https?:)$/;

function isCspSource(value: string): boolean {
  return CSP_SOURCE.test(value);
}

export function contentSecurityPolicy(security: PageSecurity): string {
  const nonce = `'nonce-${security.nonce}'`;
  return [
    "default-src 'none'",
    `script-src ${nonce}`,
    `style-src ${nonce}`,
    // The app's logo, served by latchkey itself (never a third-party image: it would tell that host who connects).
    "img-src 'self'",
    `form-action ${["'self'", ...security.formActions].join(' ')}`,
    "base-uri 'none'",
    `frame-ancestors ${security.frameAncestors.length === 0 ? "'none'" : security.frameAncestors.join(' ')}`,
  ].join('; ');
}

export function applyPageHeaders(reply: FastifyReply, security: PageSecurity): FastifyReply {
  void reply.header('content-security-policy', contentSecurityPolicy(security));
  // Browsers without frame-ancestors still honour this; ALLOW-FROM is dead, so only when no origin may frame.
  if (security.frameAncestors.length === 0) void reply.header('x-frame-options', 'DENY');
  return applyNoLeakHeaders(reply);
}

/** For every response of the connect flow, redirects included (the callback URL holds code and state). */
export function applyNoLeakHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('referrer-policy', 'no-referrer').header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
}
