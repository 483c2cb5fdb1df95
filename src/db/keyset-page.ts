// One page of a list in (created_at, id) order, for every list endpoint. `rows` comes back with
// limit + 1 rows in the direction of travel (ascending for `after` or no cursor, descending for
// `before`); users/page-info.ts toPage trims the probe row and restores ascending order.
import { sql, type Expression, type SelectQueryBuilder } from 'kysely';
import type { PageRequest } from '../users/page-info.ts';

export async function keysetPage<DB, TB extends keyof DB, O>(
  inScope: SelectQueryBuilder<DB, TB, object>,
  /** The (created_at, id) of the cursor row, limited to the same scope as the list. */
  cursorRow: (id: string) => Expression<unknown>,
  page: PageRequest,
  select: (query: SelectQueryBuilder<DB, TB, object>) => SelectQueryBuilder<DB, TB, O>,
): Promise<{ rows: O[]; total: number }> {
  let query = select(inScope);
  if (page.after !== undefined) {
    query = query.where(sql<boolean>`(created_at, id) > (${cursorRow(page.after)})`).orderBy(sql`created_at, id`);
  } else if (page.before !== undefined) {
    query = query.where(sql<boolean>`(created_at, id) < (${cursorRow(page.before)})`).orderBy(sql`created_at desc, id desc`);
  } else {
    query = query.orderBy(sql`created_at, id`);
  }
  const [rows, count] = await Promise.all([
    query.limit(page.limit + 1).execute(),
    inScope.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow() as Promise<{ n: string | number }>,
  ]);
  return { rows, total: Number(count.n) };
}
