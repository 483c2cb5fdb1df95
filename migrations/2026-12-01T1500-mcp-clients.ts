import { sql, type Kysely } from 'kysely';

// Remote MCP servers' OAuth clients: one per authorization server (issuer) per project
// environment and way of registering (`registration_key`: dynamic, the client id metadata
// document, or the operator's oauth app id). The row keeps the authorization server's endpoints
// as discovered when the client was made, so the callback and every refresh talk to the same
// server the authorization went to. A dynamically registered client's secret is sealed, bound
// to this row, its project and environment.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mcp_clients')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('registration', 'text', (c) => c.notNull())
    .addColumn('registration_key', 'text', (c) => c.notNull())
    .addColumn('oauth_app_id', 'text')
    .addColumn('client_id', 'text')
    .addColumn('client_secret_enc', 'bytea')
    .addColumn('token_auth_method', 'text', (c) => c.notNull())
    .addColumn('authorization_endpoint', 'text', (c) => c.notNull())
    .addColumn('token_endpoint', 'text', (c) => c.notNull())
    .addColumn('revocation_endpoint', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('mcp_clients_registration_unique', ['project_id', 'environment', 'issuer', 'registration_key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mcp_clients').execute();
}
