// What every registry check needs: a list of problems as JSON pointers into the file, and the
// two questions asked of almost every string (which placeholders, is it an acceptable URL).
import { isLoopbackHost, originPlaceholder, replacePlaceholders, templatePlaceholders } from './templates.ts';

export interface Problem {
  readonly pointer: string;
  readonly message: string;
}

/** Stand-in for a placeholder when a template is parsed as a URL or host (a valid host label). */
export const PLACEHOLDER_STAND_IN = 'x';

/** Stand-in for a leading placeholder that holds a whole origin. */
const ORIGIN_STAND_IN = 'https://x.example';

const HOST_PATTERN = /^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?$/;

export interface UrlRules {
  /** Docs and images may carry a fragment; endpoints may not (it never reaches the server and hides mistakes). */
  readonly page?: boolean;
  /** Whether the template may start with a placeholder holding an origin (api.base_url, test_request.url). */
  readonly origin?: boolean;
}

export class ProblemList {
  readonly problems: Problem[] = [];

  constructor(readonly insecureLoopback: boolean) {}

  add(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }

  /** Every placeholder of `template` must be in `allowed`; `what` names what they may be. */
  placeholders(pointer: string, template: string, allowed: ReadonlySet<string>, what: string): void {
    for (const name of new Set(templatePlaceholders(template))) {
      if (!allowed.has(name)) this.add(pointer, `placeholder {${name}} is not ${what}`);
    }
  }

  url(pointer: string, template: string, rules: UrlRules = {}): void {
    const origin = originPlaceholder(template);
    if (origin !== undefined && rules.origin !== true) {
      this.add(pointer, `must start with a fixed scheme and host ({${origin}} may hold an origin only in api.base_url and test_request.url)`);
      return;
    }
    const message = urlProblem(template, this.insecureLoopback, rules.page ?? false);
    if (message !== undefined) this.add(pointer, message);
  }
}

/**
 * Why a (templated) URL is unacceptable, or undefined when it is fine. Endpoints may not carry a
 * fragment; `page` URLs (docs, images) may.
 */
export function urlProblem(template: string, insecureLoopback: boolean, page = false): string | undefined {
  let url: URL;
  try {
    url = new URL(standInUrl(template));
  } catch {
    return 'is not an absolute URL';
  }
  if (url.username !== '' || url.password !== '') return 'must not contain a user name or password';
  if (url.hash !== '' && !page) return 'must not contain a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'must be an https: URL';
  if (!isLoopbackHost(url.hostname)) return 'must be an https: URL (http: only for 127.0.0.1, localhost or [::1])';
  if (!insecureLoopback) return 'must be an https: URL (http: to a loopback host needs LATCHKEY_INSECURE_LOOPBACK=true)';
  return undefined;
}

/** The template with every placeholder replaced by a stand-in (`values` first, for choices). */
export function standInUrl(template: string, values: Readonly<Record<string, string>> = {}): string {
  const origin = originPlaceholder(template);
  const rest = origin === undefined ? template : ORIGIN_STAND_IN + template.slice(origin.length + 2);
  return replacePlaceholders(rest, (name) => values[name] ?? PLACEHOLDER_STAND_IN);
}

export function hostPatternProblem(host: string): string | undefined {
  const concrete = replacePlaceholders(host, () => PLACEHOLDER_STAND_IN);
  if (!HOST_PATTERN.test(concrete)) return 'must be a host name (optionally starting with *. or ending with :port)';
  // `*.com` would let a credential go to any host under a public suffix.
  if (concrete.startsWith('*.') && concrete.split('.').length < 3) return 'a *. wildcard needs at least two labels after it';
  return undefined;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
