// Keyset pagination in Pipedream's envelope (every list endpoint): `{data, page_info: {count, total_count,
// start_cursor, end_cursor}}`. The SDK keeps paging while end_cursor is a non-empty string and
// sends it back as `after`, so end_cursor is null on the last page. Cursors are row ids.
import { Type } from '@sinclair/typebox';

export const PageInfoSchema = Type.Object({
  count: Type.Integer(),
  total_count: Type.Integer(),
  start_cursor: Type.Union([Type.String(), Type.Null()]),
  end_cursor: Type.Union([Type.String(), Type.Null()]),
});

export interface PageRequest {
  limit: number;
  after?: string | undefined;
  before?: string | undefined;
}

export interface PageInfo {
  count: number;
  total_count: number;
  start_cursor: string | null;
  end_cursor: string | null;
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/**
 * `rows` were fetched with limit + 1 in the direction of travel (ascending for `after` or no
 * cursor, descending for `before`); this trims the probe row and restores ascending order.
 */
export function toPage<T extends { id: string }>(rows: T[], request: PageRequest, totalCount: number): { data: T[]; page_info: PageInfo } {
  const hasMore = rows.length > request.limit;
  const page = rows.slice(0, request.limit);
  const backwards = request.before !== undefined && request.after === undefined;
  if (backwards) page.reverse();
  // Going forwards there is a next page when the probe row came back; going backwards we came
  // from a later page, so there is always one after this page.
  const moreAfter = backwards ? page.length > 0 : hasMore;
  return {
    data: page,
    page_info: {
      count: page.length,
      total_count: totalCount,
      start_cursor: page[0]?.id ?? null,
      end_cursor: moreAfter ? (page[page.length - 1]?.id ?? null) : null,
    },
  };
}
