// Where a proxied request goes. An absolute target is taken as it is (its host is then checked
// against the app's allowed hosts like any other); a relative one (`/users/me`) is appended to
// the path of the app's api.base_url, filled from the account (`https://{subdomain}.zendesk.com`,
// `{instance_url}/services/data`). The steps, each one refusal:
//   1. a relative target must stay a path: `//host` and `/\host` would change the host;
//   2. its dot segments (`..`, `%2e%2e`) are resolved on its own, so it cannot climb above the
//      base URL's path;
//   3. the base URL is filled by the registry's context-aware templates (a value cannot move
//      the host: `evil.com#`, `@`, `/`, `%2e` are refused there);
//   4. the fragment is dropped: it is never sent, and nothing should depend on it.
import type { RegistryApp } from '../registry/registry.ts';
import { TemplateError, fillTemplate, type TemplateValues } from '../registry/templates.ts';

export type TargetRefusal =
  /** Not a URL, or a relative target that would not stay a path. */
  | 'invalid_url'
  /** A relative target for an app without api.base_url. */
  | 'no_base_url'
  /** The account's values do not fill api.base_url into a URL on a public host. */
  | 'base_url_unfilled';

export type UpstreamTarget =
  | {
      readonly ok: true;
      readonly url: URL;
      /** The path as the caller wrote it (relative or the absolute URL's), for the audit: it never holds an injected credential. */
      readonly callerPath: string;
    }
  | { readonly ok: false; readonly refusal: TargetRefusal; readonly placeholder?: string };

/** A scheme followed by `:` (RFC 3986 §3.1): an absolute URL, not a path. */
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const RELATIVE_PARSE_BASE = 'http://relative.invalid';

export function resolveUpstreamUrl(app: Pick<RegistryApp, 'api'>, values: TemplateValues, target: string): UpstreamTarget {
  if (ABSOLUTE.test(target)) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return { ok: false, refusal: 'invalid_url' };
    }
    url.hash = '';
    return { ok: true, url, callerPath: url.pathname };
  }
  const relative = parseRelative(target);
  if (relative === undefined) return { ok: false, refusal: 'invalid_url' };
  if (app.api === undefined) return { ok: false, refusal: 'no_base_url' };
  let base: URL;
  try {
    base = new URL(fillTemplate(app.api.base_url, values, 'url'));
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    return err.placeholder === '' ? { ok: false, refusal: 'base_url_unfilled' } : { ok: false, refusal: 'base_url_unfilled', placeholder: err.placeholder };
  }
  const query = [base.search.slice(1), relative.search.slice(1)].filter((part) => part !== '').join('&');
  const url = new URL(`${base.origin}${base.pathname.replace(/\/$/, '')}${relative.pathname}${query === '' ? '' : `?${query}`}`);
  return { ok: true, url, callerPath: relative.pathname };
}

/** The path and query of a relative target, its dot segments resolved below its own root. */
function parseRelative(target: string): URL | undefined {
  const path = target.startsWith('/') ? target : `/${target}`;
  let parsed: URL;
  try {
    parsed = new URL(path, RELATIVE_PARSE_BASE);
  } catch {
    return undefined;
  }
  // `//evil.com/x` and `/\evil.com` parse as another host: not a path at all.
  return parsed.origin === RELATIVE_PARSE_BASE ? parsed : undefined;
}
