// Listing and finding registry apps. The registry is in memory and immutable while the process
// runs, so a cursor is simply the slug of an edge item (base64url, opaque to clients) and a page
// is a slice of the filtered, sorted list.
import { badRequest, notFound } from '../errors.ts';
import type { PageInfo } from '../http/page-info.ts';
import { SLUG_REGEX, type AppRegistry, type RegistryApp } from '../registry/registry.ts';
import { APP_ID_PREFIX } from './app-view.ts';

export const DEFAULT_APPS_LIMIT = 20;
export const MAX_APPS_LIMIT = 100;

export type AppSortKey = 'name' | 'name_slug' | 'featured_weight';

export interface AppListQuery {
  q?: string | undefined;
  limit?: number | undefined;
  after?: string | undefined;
  before?: string | undefined;
  sort_key?: AppSortKey | undefined;
  sort_direction?: 'asc' | 'desc' | undefined;
  /** Category names (latchkey's categories have no separate ids). */
  category_ids?: string | string[] | undefined;
}

export interface AppPage {
  data: RegistryApp[];
  page_info: PageInfo;
}

export function listApps(registry: AppRegistry, query: AppListQuery): AppPage {
  if (query.after !== undefined && query.before !== undefined) throw badRequest('after and before cannot be combined');
  const limit = query.limit ?? DEFAULT_APPS_LIMIT;
  const matching = sortApps(filterApps(registry.list(), query), query.sort_key ?? 'name_slug', query.sort_direction ?? 'asc');

  let start: number;
  let end: number;
  if (query.before !== undefined) {
    end = cursorIndex(matching, query.before, 'before');
    start = Math.max(0, end - limit);
  } else {
    start = query.after === undefined ? 0 : cursorIndex(matching, query.after, 'after') + 1;
    end = Math.min(matching.length, start + limit);
  }
  const data = matching.slice(start, end);
  const first = data[0];
  const last = data[data.length - 1];
  return {
    data,
    page_info: {
      count: data.length,
      total_count: matching.length,
      start_cursor: first === undefined ? null : encodeCursor(first.slug),
      // The SDK pages while end_cursor is a non-empty string, so it is null on the last page.
      end_cursor: last === undefined || end >= matching.length ? null : encodeCursor(last.slug),
    },
  };
}

/** An app by slug or by id (`app_<slug>`). The exact slug wins; loader forbids slugs starting with app_. */
export function findApp(registry: AppRegistry, idOrSlug: string): RegistryApp {
  const app = registry.get(idOrSlug) ?? (idOrSlug.startsWith(APP_ID_PREFIX) ? registry.get(idOrSlug.slice(APP_ID_PREFIX.length)) : undefined);
  if (app === undefined) throw notFound('app');
  return app;
}

function filterApps(apps: readonly RegistryApp[], query: AppListQuery): RegistryApp[] {
  const needle = query.q?.trim().toLowerCase() ?? '';
  const categories = [query.category_ids ?? []].flat().map((c) => c.trim().toLowerCase());
  return apps.filter((app) => {
    if (categories.length > 0 && !app.categories.some((c) => categories.includes(c.toLowerCase()))) return false;
    if (needle === '') return true;
    return app.slug.includes(needle) || app.name.toLowerCase().includes(needle) || app.categories.some((c) => c.toLowerCase().includes(needle));
  });
}

function sortApps(apps: RegistryApp[], key: AppSortKey, direction: 'asc' | 'desc'): RegistryApp[] {
  const bySlug = (a: RegistryApp, b: RegistryApp): number => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0);
  const compare =
    key === 'name'
      ? (a: RegistryApp, b: RegistryApp) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || bySlug(a, b)
      : key === 'featured_weight'
        ? (a: RegistryApp, b: RegistryApp) => a.featured_weight - b.featured_weight || bySlug(a, b)
        : bySlug;
  const sorted = apps.sort(compare);
  return direction === 'desc' ? sorted.reverse() : sorted;
}

function encodeCursor(slug: string): string {
  return Buffer.from(slug, 'utf8').toString('base64url');
}

function cursorIndex(apps: readonly RegistryApp[], cursor: string, parameter: string): number {
  const slug = Buffer.from(cursor, 'base64url').toString('utf8');
  const index = SLUG_REGEX.test(slug) ? apps.findIndex((app) => app.slug === slug) : -1;
  // A cursor from another query (different q or sort) does not identify a position here.
  if (index === -1) throw badRequest(`${parameter} is not a valid cursor for this query`);
  return index;
}
