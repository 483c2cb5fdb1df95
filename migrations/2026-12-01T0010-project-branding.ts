import type { Kysely } from 'kysely';

// Who is asking, on the hosted pages and in tokens/validate: the project's app name, support
// address, privacy and terms links, and its logo (the image bytes and their type, served by
// latchkey itself so the page loads nothing from elsewhere). All optional: a project without
// them shows latchkey's neutral text.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('projects')
    .addColumn('app_name', 'text')
    .addColumn('support_email', 'text')
    .addColumn('privacy_url', 'text')
    .addColumn('terms_url', 'text')
    .addColumn('logo', 'bytea')
    .addColumn('logo_type', 'text')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('projects')
    .dropColumn('app_name')
    .dropColumn('support_email')
    .dropColumn('privacy_url')
    .dropColumn('terms_url')
    .dropColumn('logo')
    .dropColumn('logo_type')
    .execute();
}
