// Named statements for the hot path. pg sends a query with a `name` to the server once per
// connection (Parse), then only binds and executes it: PostgreSQL parses and plans the text once
// per connection instead of on every call. The credential fetch runs one primary-key SELECT per
// request, so that statement is named here.
//
// A repository declares the statement by building it with `compileOnly` (the same query
// compiler both databases use); the pool in connect.ts looks every query text up in this table
// and sends the matching ones by name. Only statements declared here are named, never every
// query: a text that varies (an IN list of n ids) would otherwise leave a prepared statement per
// variant on every connection. PGlite runs in-process and has no use for them.
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type Compilable } from 'kysely';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type { Database } from './types.ts';

/** Builds queries for their SQL text only; it has no connection. */
export const compileOnly = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const namesByText = new Map<string, string>();

/** SQLSTATE 0A000 (feature_not_supported), as PostgreSQL reports a prepared plan made stale. */
const CACHED_PLAN_INVALID = '0A000';

/** Declares `query`'s text as the named statement `name` (call once, at module load). */
export function declarePreparedStatement(name: string, query: Compilable): void {
  const text = query.compile().sql;
  const existing = namesByText.get(text);
  if (existing !== undefined && existing !== name) throw new Error(`statement text already declared as ${existing}`);
  namesByText.set(text, name);
}

export function preparedStatementName(text: string): string | undefined {
  return namesByText.get(text);
}

interface PgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<unknown>;
  query(text: unknown, values?: unknown): unknown;
  release(): void;
}

interface PgPool<C extends PgClient> {
  connect(): Promise<C>;
  end(): Promise<void>;
}

/** The pool Kysely uses, sending declared statements by name. */
export function namingPreparedStatements<C extends PgClient>(pool: PgPool<C>): PostgresPool {
  // One wrapper per pg client: Kysely keeps its connection object per client it is handed.
  const wrappers = new WeakMap<C, PostgresPoolClient>();
  const withoutNames = new WeakSet<C>();
  const wrap = (client: C): PostgresPoolClient => {
    const query = (textOrCursor: unknown, values?: readonly unknown[]): unknown => {
      const name = typeof textOrCursor === 'string' ? namesByText.get(textOrCursor) : undefined;
      if (name === undefined || withoutNames.has(client)) return client.query(textOrCursor, values);
      return client.query({ name, text: textOrCursor as string, values: (values ?? []) as unknown[] }).catch((err: unknown) => {
        // A migration changed the table under a statement this connection prepared before it
        // ("cached plan must not change result type", while replicas run across a deploy): the
        // connection goes on without names rather than failing every call until it is closed.
        if ((err as { code?: unknown }).code !== CACHED_PLAN_INVALID) throw err;
        withoutNames.add(client);
        return client.query(textOrCursor, values);
      });
    };
    return { query: query as PostgresPoolClient['query'], release: () => client.release() };
  };
  return {
    connect: async () => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}
