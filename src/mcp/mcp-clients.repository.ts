// The only SQL on mcp_clients. client_secret_enc is sealed by the vault (mcp-clients.service.ts);
// this file never sees a plaintext secret.
import { sql, type Insertable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, EnvironmentName } from '../db/types.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type McpClientRow = Selectable<Database['mcp_clients']>;
export type NewMcpClient = Omit<Insertable<Database['mcp_clients']>, 'created_at' | 'updated_at'>;

export interface McpClientKey {
  readonly projectId: string;
  readonly environment: EnvironmentName;
  readonly issuer: string;
  readonly registrationKey: string;
}

export function findMcpClientByKey(db: Db, key: McpClientKey): Promise<McpClientRow | undefined> {
  return db
    .selectFrom('mcp_clients')
    .selectAll()
    .where('project_id', '=', key.projectId)
    .where('environment', '=', key.environment)
    .where('issuer', '=', key.issuer)
    .where('registration_key', '=', key.registrationKey)
    .executeTakeFirst();
}

/** By id, within its project environment only (an id from another project is no client of this one). */
export function findMcpClient(db: Db, projectId: string, environment: EnvironmentName, id: string): Promise<McpClientRow | undefined> {
  return db
    .selectFrom('mcp_clients')
    .selectAll()
    .where('id', '=', id)
    .where('project_id', '=', projectId)
    .where('environment', '=', environment)
    .executeTakeFirst();
}

/**
 * Two browsers connecting at once may both register; the first insert wins and the other's
 * registration is left unused at the authorization server (undefined here: read the winner).
 */
export async function insertMcpClient(db: Db, row: NewMcpClient): Promise<McpClientRow | undefined> {
  return db
    .insertInto('mcp_clients')
    .values(row)
    .onConflict((oc) => oc.constraint('mcp_clients_registration_unique').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The authorization server moved an endpoint since the client was made: later flows use the new one. */
export async function updateMcpClientEndpoints(
  db: Db,
  id: string,
  endpoints: Pick<McpClientRow, 'authorization_endpoint' | 'token_endpoint' | 'revocation_endpoint'>,
): Promise<McpClientRow | undefined> {
  return db
    .updateTable('mcp_clients')
    .set({ ...endpoints, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}
