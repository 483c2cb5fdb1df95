// The hosted pages' form token (login CSRF, security catalogue 56): every page latchkey renders
// carries one in its forms, and a form post is taken only with a token minted for the same
// connect token in the same browser. The browser binding cookie's nonce is the MAC key, so a
// page on another site cannot mint one (the cookie is HttpOnly and never leaves our origin), and
// a token read off the attacker's own copy of the page is bound to the attacker's browser.
//
//   format: `<page nonce, 22 base64url>.<HMAC-SHA256(binding nonce, context), 43 base64url>`
//   context: "latchkey form v1" \n hex(SHA-256 of the connect token) \n page nonce
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const FORM_TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

function mac(bindingNonce: string, connectTokenDigest: Buffer, pageNonce: string): Buffer {
  return createHmac('sha256', bindingNonce)
    .update(`latchkey form v1\n${connectTokenDigest.toString('hex')}\n${pageNonce}`)
    .digest();
}

/** A fresh token for one rendered page. */
export function mintFormToken(bindingNonce: string, connectTokenDigest: Buffer): string {
  const pageNonce = randomBytes(16).toString('base64url');
  return `${pageNonce}.${mac(bindingNonce, connectTokenDigest, pageNonce).toString('base64url')}`;
}

/** Shaped like a form token (says nothing about whose). */
export function isFormTokenShaped(value: string | undefined): value is string {
  return value !== undefined && FORM_TOKEN.test(value);
}

/** True when `formToken` was minted for this connect token in the browser holding `bindingNonce`. */
export function formTokenMatches(formToken: string | undefined, bindingNonce: string | undefined, connectTokenDigest: Buffer): boolean {
  if (formToken === undefined || bindingNonce === undefined) return false;
  const parts = FORM_TOKEN.exec(formToken);
  if (parts === null) return false;
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = mac(bindingNonce, connectTokenDigest, parts[1]!);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
