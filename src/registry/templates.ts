// `{name}` placeholders in registry strings (URLs, headers, bodies), filled from the values a
// user entered (subdomain, shop, tenant) or from a credential (oauth_access_token). Values come
// from end users, so filling is context-aware: a value may never move a URL to another host or
// path segment, inject a header line or break out of a JSON string.
import { isPublicHostName } from '../egress/host-names.ts';

/** A placeholder is a lower-case identifier in braces; `{ viewer { id } }` (GraphQL) is not one. */
const PLACEHOLDER = /\{([a-z][a-z0-9_]{0,63})\}/g;

/** What a value filled into a URL's host may contain: no `@`, `:`, `/`, `?`, `#` or `%`. */
const HOST_VALUE = /^[A-Za-z0-9.-]+$/;

export type TemplateContext = 'url' | 'header' | 'form' | 'json';

export type TemplateValues = Readonly<Record<string, string | undefined>>;

export class TemplateError extends Error {
  constructor(
    readonly placeholder: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

/** The placeholder names a template uses, in order of appearance (with repeats). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1]!);
}

/**
 * Fills a template. `url` (the default) percent-encodes path and query values, requires values
 * that land in the host to be plain host characters, refuses `.`/`..` path segments, and checks
 * the result is an absolute URL. `header` refuses CR, LF and NUL; `form` percent-encodes; `json`
 * escapes for the inside of a JSON string. A missing or empty value is an error: a URL with an
 * empty subdomain would silently point at the provider's apex host.
 */
export function fillTemplate(template: string, values: TemplateValues, context: TemplateContext = 'url'): string {
  const hostEnd = context === 'url' ? authorityEnd(template) : -1;
  const pathEnd = context === 'url' ? queryStart(template, hostEnd) : -1;
  let hostPlaceholder: string | undefined;
  const filled = template.replace(PLACEHOLDER, (_match, name: string, offset: number) => {
    const value = values[name];
    if (value === undefined || value === '') throw new TemplateError(name, `a value for {${name}} is required`);
    if (context === 'header') {
      if (/[\r\n\0]/.test(value)) throw new TemplateError(name, `the value for {${name}} contains a line break`);
      return value;
    }
    if (context === 'form') return encodeURIComponent(value);
    if (context === 'json') return JSON.stringify(value).slice(1, -1);
    if (offset < hostEnd) {
      if (!HOST_VALUE.test(value) || value.startsWith('.') || value.startsWith('-') || value.includes('..')) {
        throw new TemplateError(name, `the value for {${name}} is not a valid host name part`);
      }
      hostPlaceholder = name;
      return value;
    }
    // WHATWG URL parsing resolves `.`/`..` segments (and their %2e spellings) even mid-path.
    if (offset < pathEnd && (value === '.' || value === '..')) throw new TemplateError(name, `the value for {${name}} is not a valid path segment`);
    return encodeURIComponent(value);
  });
  if (context === 'url') {
    let url: URL;
    try {
      url = new URL(filled);
    } catch {
      throw new TemplateError('', 'the filled template is not a valid URL');
    }
    if (hostPlaceholder !== undefined && !isPublicHostName(url.hostname)) {
      throw new TemplateError(hostPlaceholder, `the value for {${hostPlaceholder}} must name a public host`);
    }
  }
  return filled;
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
    let pattern: string;
    try {
      pattern = fillTemplate(entry, values, 'header').toLowerCase();
    } catch {
      return false;
    }
    if (!/^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$/.test(pattern)) return false;
    return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
  });
}
