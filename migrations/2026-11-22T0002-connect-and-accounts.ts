import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // End users of a project environment, created on first use by a connect token.
  await db.schema
    .createTable('external_users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('external_users_identity', ['project_id', 'environment', 'external_id'])
    .execute();

  // Connect tokens: single-use, stored as a SHA-256 digest only.
  await db.schema
    .createTable('connect_tokens')
    .addColumn('digest', 'bytea', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('external_user_id', 'text', (c) => c.notNull().references('external_users.id').onDelete('cascade'))
    .addColumn('success_redirect_uri', 'text')
    .addColumn('error_redirect_uri', 'text')
    .addColumn('webhook_uri', 'text')
    .addColumn('allowed_origins', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('app_slug', 'text')
    .addColumn('oauth_app_id', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('connect_tokens_expires_idx').on('connect_tokens').column('expires_at').execute();

  // A project's own OAuth clients at providers; the secret is sealed.
  await db.schema
    .createTable('oauth_apps')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('app_slug', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('client_secret_enc', 'bytea', (c) => c.notNull())
    .addColumn('scopes', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('oauth_apps_project_app_idx').on('oauth_apps').columns(['project_id', 'app_slug', 'created_at']).execute();

  // In-flight authorization requests: state digest, bound to a browser cookie digest; the PKCE
  // verifier and user-entered fields are sealed. Consumed with DELETE … RETURNING.
  await db.schema
    .createTable('oauth_states')
    .addColumn('digest', 'bytea', (c) => c.primaryKey())
    .addColumn('cookie_digest', 'bytea', (c) => c.notNull())
    .addColumn('connect_token_digest', 'bytea', (c) => c.notNull())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('external_user_id', 'text', (c) => c.notNull())
    .addColumn('app_slug', 'text', (c) => c.notNull())
    .addColumn('oauth_app_id', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text')
    .addColumn('code_verifier_enc', 'bytea')
    .addColumn('fields_enc', 'bytea')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Connected accounts. credentials_enc seals a JSON object of every credential but the refresh
  // token, which has a column of its own so a refresh writes both in one UPDATE.
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('external_user_id', 'text', (c) => c.notNull().references('external_users.id').onDelete('cascade'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('app_slug', 'text', (c) => c.notNull())
    .addColumn('oauth_app_id', 'text')
    .addColumn('name', 'text')
    .addColumn('credentials_enc', 'bytea', (c) => c.notNull())
    .addColumn('refresh_token_enc', 'bytea')
    .addColumn('credentials_version', 'bigint', (c) => c.notNull().defaultTo(1))
    .addColumn('authorized_scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('healthy', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('dead', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('error', 'text')
    .addColumn('last_refreshed_at', 'timestamptz')
    .addColumn('next_refresh_at', 'timestamptz')
    .addColumn('refresh_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('refresh_backoff_until', 'timestamptz')
    .addColumn('refresh_lease_owner', 'text')
    .addColumn('refresh_lease_until', 'timestamptz')
    .addColumn('refresh_attempt_id', 'text')
    .addColumn('refresh_attempt_started_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('accounts_list_idx').on('accounts').columns(['project_id', 'environment', 'created_at', 'id']).execute();
  await db.schema.createIndex('accounts_user_idx').on('accounts').columns(['external_user_id']).execute();
  await sql`create index accounts_refresh_due_idx on accounts (next_refresh_at) where not dead and next_refresh_at is not null`.execute(db);

  // Webhook deliveries: a PostgreSQL outbox, claimed with FOR UPDATE SKIP LOCKED.
  await db.schema
    .createTable('webhook_outbox')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('failed_at', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index webhook_outbox_due_idx on webhook_outbox (next_attempt_at) where delivered_at is null and failed_at is null`.execute(db);

  // Append-only audit log of credential reads and admin actions (never a secret).
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('project_id', 'text')
    .addColumn('environment', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('account_id', 'text')
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb')
    .execute();
  await db.schema.createIndex('audit_log_account_idx').on('audit_log').columns(['account_id', 'at']).execute();
  await db.schema.createIndex('audit_log_project_idx').on('audit_log').columns(['project_id', 'at']).execute();
  // Append-only, enforced by the database itself.
  await sql`create function audit_log_append_only() returns trigger language plpgsql as $$
            begin raise exception 'audit_log is append-only'; end $$`.execute(db);
  await sql`create trigger audit_log_no_update before update or delete on audit_log
            for each row execute function audit_log_append_only()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await sql`drop function if exists audit_log_append_only`.execute(db);
  for (const table of ['webhook_outbox', 'accounts', 'oauth_states', 'oauth_apps', 'connect_tokens', 'external_users']) {
    await db.schema.dropTable(table).execute();
  }
}
