// `{name}` placeholders in registry strings (URLs, headers, bodies), filled from the values a
// user entered (subdomain, shop, tenant) or from a credential (oauth_access_token). Values come
// from end users, so filling is context-aware: a value may never move a URL to another host or
// path segment, inject a header line or break out of a JSON string.
import { isPublicHostName } from '../egress/host-names.ts';

/**
 * A placeholder is an identifier in braces (Pipedream's field names include `AccountSid`);
 * `{ viewer { id } }` (GraphQL, with spaces) is not one. The one definition of the syntax.
 */
export const PLACEHOLDER_SOURCE = '\\{([A-Za-z][A-Za-z0-9_]{0,63})\\}';
const PLACEHOLDER = new RegExp(PLACEHOLDER_SOURCE, 'g');
const LEADING_PLACEHOLDER = new RegExp(`^${PLACEHOLDER_SOURCE}`);
const LONE_PLACEHOLDER = new RegExp(`^${PLACEHOLDER_SOURCE}$`);

/** What a value filled into a URL's host may contain: no `@`, `:`, `/`, `?`, `#` or `%`. */
const HOST_VALUE = /^[A-Za-z0-9.-]+$/;

/**
 * `url` fills a URL; `header` a header value and `query` a query value the caller encodes
 * itself (URLSearchParams): both refuse control characters; `form` percent-encodes; `json`
 * escapes for the inside of a JSON string; `host` takes host-name characters only (an allowed
 * host filled from an account: no `@`, `#`, `/`, `%`, `:`, empty label or leading hyphen).
 */
export type TemplateContext = 'url' | 'header' | 'query' | 'form' | 'json' | 'host';

export type TemplateValues = Readonly<Record<string, string | null | undefined>>;

/** `missing`: no value (or an empty one); `invalid`: a value that may not go where the placeholder is. */
export type TemplateFailure = 'missing' | 'invalid';

export class TemplateError extends Error {
  constructor(
    readonly placeholder: string,
    message: string,
    readonly reason: TemplateFailure = 'invalid',
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The placeholder names a template uses, in order of appearance (with repeats). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!);
}

/** Replaces every placeholder with what `replace` returns for its name (stand-ins, issuers). */
export function replacePlaceholders(template: string, replace: (name: string) => string): string {
  return template.replace(PLACEHOLDER, (_match, name: string) => replace(name));
}

/**
 * The placeholder a URL template starts with (`{instance_url}/services/data`): its value is a
 * whole origin (Salesforce's instance_url, ActiveCampaign's account URL), not a host label.
 */
export function originPlaceholder(template: string): string | undefined {
  return LEADING_PLACEHOLDER.exec(template)?.[1];
}

/**
 * Fills a template. `url` (the default) percent-encodes path and query values, requires values
 * that land in the host to be plain host characters, refuses `.`/`..` path segments, and checks
 * the result is an absolute URL; a leading placeholder must hold an https origin with a public
 * host and nothing else. A missing or empty value is an error: a URL with an empty subdomain
 * would silently point at the provider's apex host.
 */
export function fillTemplate(template: string, values: TemplateValues, context: TemplateContext = 'url'): string {
  if (context === 'url') return fillUrl(template, values);
  return template.replace(PLACEHOLDER, (_match, name: string) => {
    const value = requireValue(values, name);
    if (context === 'form') return encodeURIComponent(value);
    if (context === 'json') return JSON.stringify(value).slice(1, -1);
    if (context === 'host') {
      if (!isHostValue(value)) throw new TemplateError(name, `the value for {${name}} is not a valid host name part`);
      return value;
    }
    // A header value with CR/LF would start a new header line; other controls are refused by
    // every HTTP stack anyway, and in a query they are junk nobody typed on purpose.
    if (hasControlCharacter(value)) throw new TemplateError(name, `the value for {${name}} contains a control character`);
    return value;
  });
}

/**
 * How each placeholder of a template is filled, without filling it: the code templates write
 * the same encoding into a program that fills it at run time. `raw` goes in as is (an origin,
 * a host label, a header value, a query value the program encodes itself), `uri` is
 * percent-encoded (a URL path or query part, a form body), `json` is escaped for the inside of a
 * JSON string. Mirrors fillTemplate's rules for each context.
 */
export type TemplatePart = { readonly text: string } | { readonly placeholder: string; readonly encoding: 'raw' | 'uri' | 'json' };

export function templateParts(template: string, context: TemplateContext): TemplatePart[] {
  const origin = context === 'url' ? originPlaceholder(template) : undefined;
  const hostEnd = context === 'url' && origin === undefined ? authorityEnd(template) : 0;
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const offset = match.index;
    if (offset > last) parts.push({ text: template.slice(last, offset) });
    const placeholder = match[1]!;
    const urlEncoding = (offset === 0 && origin !== undefined) || offset < hostEnd ? 'raw' : 'uri';
    const encoding = context === 'url' ? urlEncoding : context === 'form' ? 'uri' : context === 'json' ? 'json' : 'raw';
    parts.push({ placeholder, encoding });
    last = offset + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return parts;
}

function fillUrl(template: string, values: TemplateValues): string {
  const origin = originPlaceholder(template);
  const hostEnd = origin === undefined ? authorityEnd(template) : 0;
  const pathEnd = queryStart(template, origin === undefined ? hostEnd : `{${origin}}`.length);
  let hostPlaceholder: string | undefined;
  const filled = template.replace(PLACEHOLDER, (_match, name: string, offset: number) => {
    const value = requireValue(values, name);
    if (offset === 0 && origin !== undefined) return originValue(name, value);
    if (offset < hostEnd) {
      if (!isHostValue(value)) throw new TemplateError(name, `the value for {${name}} is not a valid host name part`);
      hostPlaceholder = name;
      return value;
    }
    // WHATWG URL parsing resolves `.`/`..` segments (and their %2e spellings) even mid-path.
    if (offset < pathEnd && (value === '.' || value === '..')) throw new TemplateError(name, `the value for {${name}} is not a valid path segment`);
    return encodeURIComponent(value);
  });
  let url: URL;
  try {
    url = new URL(filled);
  } catch {
    throw new TemplateError('', 'the filled template is not a valid URL');
  }
  if (hostPlaceholder !== undefined && !isPublicHostName(url.hostname)) {
    throw new TemplateError(hostPlaceholder, `the value for {${hostPlaceholder}} must name a public host`);
  }
  return filled;
}

function isHostValue(value: string): boolean {
  return HOST_VALUE.test(value) && !value.startsWith('.') && !value.startsWith('-') && !value.includes('..');
}

function requireValue(values: TemplateValues, name: string): string {
  const value = values[name];
  if (value === undefined || value === null || value === '') throw new TemplateError(name, `a value for {${name}} is required`, 'missing');
  return value;
}

/** An origin value: `https://host[:port]`, optionally with a trailing slash, nothing more. */
function originValue(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TemplateError(name, `the value for {${name}} is not an https origin`);
  }
  const onlyOrigin = url.username === '' && url.password === '' && url.search === '' && url.hash === '' && (url.pathname === '/' || url.pathname === '');
  if (url.protocol !== 'https:' || !onlyOrigin || !/^https:\/\/[^/?#]+\/?$/i.test(value)) {
    throw new TemplateError(name, `the value for {${name}} is not an https origin`);
  }
  if (!isPublicHostName(url.hostname)) throw new TemplateError(name, `the value for {${name}} must name a public host`);
  return url.origin;
}

/** C0 controls and DEL: line breaks in a header, NUL in a URL, invisible junk in a key. */
export function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The hosts `http:` is allowed for, and only under LATCHKEY_INSECURE_LOOPBACK (tests, local development). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}

function originHost(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.origin === value.replace(/\/$/, '') ? url.host : undefined;
  } catch {
    return undefined;
  }
}

/** `https://{subdomain}.zendesk.com:443/x` → `{subdomain}.zendesk.com:443` (the default allowed host). */
export function templateHost(template: string): string {
  const start = template.indexOf('://') + 3;
  const rest = template.slice(start);
  const end = rest.search(/[/?#]/);
  return (end === -1 ? rest : rest.slice(0, end)).toLowerCase();
}

/** Index just past `scheme://authority` (0 when the template has no authority). */
function authorityEnd(template: string): number {
  const start = template.indexOf('://');
  if (start === -1) return 0;
  const rest = template.slice(start + 3).search(/[/?#]/);
  return rest === -1 ? template.length : start + 3 + rest;
}

function queryStart(template: string, from: number): number {
  const rest = template.slice(from).search(/[?#]/);
  return rest === -1 ? template.length : from + rest;
}

/**
 * Whether a filled URL's host is one a credential may be sent to. `allowedHosts` entries are
 * filled with the same values (`{subdomain}.zendesk.com`), and `*.example.com` allows any
 * subdomain of example.com (not example.com itself). Entries that cannot be filled never match.
 */
export function hostAllowed(allowedHosts: readonly string[], values: TemplateValues, url: string): boolean {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return false;
  }
  const host = target.host.toLowerCase();
  return allowedHosts.some((entry) => {
    // A lone placeholder may hold an origin (`{base_url}` = https://acme.api-us1.com) or a host.
    const lone = LONE_PLACEHOLDER.test(entry);
    let pattern: string;
    try {
      // A value filled into a host is user input, judged as fillUrl judges it: host label characters only.
      pattern = fillTemplate(entry, values, lone ? 'header' : 'host').toLowerCase();
    } catch {
      return false;
    }
    // An entry filled from an origin value allows that origin's host.
    if (pattern.startsWith('https://')) pattern = originHost(pattern) ?? '';
    else if (lone && !isHostValue(pattern.replace(/:\d{1,5}$/, ''))) return false;
    if (!/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/.test(pattern)) return false;
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
  });
}
