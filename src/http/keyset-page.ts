// One page of a list in (created_at, id) order, for every list endpoint. `rows` comes back with
// limit + 1 rows in the direction of travel (ascending for `after` or no cursor, descending for
// `before`); page-info.ts toPage trims the probe row and restores ascending order.
import { sql, type Expression, type SelectQueryBuilder } from 'kysely';
import type { PageRequest } from './page-info.ts';

/** The list's own table, when the query joins others that also have created_at and id. */
export interface KeysetColumns {
  readonly table?: string;
}

export async function keysetPage<DB, TB extends keyof DB, O>(
  inScope: SelectQueryBuilder<DB, TB, object>,
  /** The (created_at, id) of the cursor row, limited to the same scope as the list. */
  cursorRow: (id: string) => Expression<unknown>,
  page: PageRequest,
  select: (query: SelectQueryBuilder<DB, TB, object>) => SelectQueryBuilder<DB, TB, O>,
  columns: KeysetColumns = {},
): Promise<{ rows: O[]; total: number }> {
  const key = columns.table === undefined ? sql`created_at, id` : sql`${sql.ref(`${columns.table}.created_at`)}, ${sql.ref(`${columns.table}.id`)}`;
  const keyDesc =
    columns.table === undefined ? sql`created_at desc, id desc` : sql`${sql.ref(`${columns.table}.created_at`)} desc, ${sql.ref(`${columns.table}.id`)} desc`;
  let query = select(inScope);
  if (page.after !== undefined) {
    query = query.where(sql<boolean>`(${key}) > (${cursorRow(page.after)})`).orderBy(key);
  } else if (page.before !== undefined) {
    query = query.where(sql<boolean>`(${key}) < (${cursorRow(page.before)})`).orderBy(keyDesc);
  } else {
    query = query.orderBy(key);
  }
  const [rows, count] = await Promise.all([
    query.limit(page.limit + 1).execute(),
    inScope.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow() as Promise<{ n: string | number }>,
  ]);
  return { rows, total: Number(count.n) };
}
