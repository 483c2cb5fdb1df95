// The bare baseline, a process of its own: Fastify with the logger off, `pg` (pool 10), one
// primary-key SELECT (a named prepared statement) of an account row, one AES-256-GCM decrypt of a
// value the size of that row's sealed credentials, JSON out. No auth, no hooks, no schema: the
// least any service must do to hand out a stored secret, and what latchkey's fetch is held to.
//
// env: PORT, DATABASE_URL (the database latchkey's accounts are in). GET /accounts/:id, /healthz.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';
import { benchCredentials } from './lib/bench-accounts.ts';

const port = Number(process.env['PORT']);
const pool = new pg.Pool({ connectionString: process.env['DATABASE_URL'], max: 10 });

// A value as large as a bench account's credentials, sealed once with a key of our own.
const key = randomBytes(32);
const iv = randomBytes(12);
const plaintext = Buffer.from(JSON.stringify(benchCredentials(0)), 'utf8');
const cipher = createCipheriv('aes-256-gcm', key, iv);
const associatedData = (id: string): Buffer => Buffer.from(`accounts\0credentials_enc\0${id}`, 'utf8');
cipher.setAAD(associatedData('fixed'));
const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
const tag = cipher.getAuthTag();

interface AccountRecord {
  id: string;
  name: string | null;
  external_id: string;
  app_slug: string;
  healthy: boolean;
  dead: boolean;
  expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const app = Fastify({ logger: false });
app.get('/healthz', async () => ({ ok: true }));
app.get<{ Params: { id: string } }>('/accounts/:id', async (request, reply) => {
  const result = await pool.query<AccountRecord>({ name: 'baseline-account-by-id', text: 'select * from accounts where id = $1', values: [request.params.id] });
  const row = result.rows[0];
  if (row === undefined) return reply.code(404).send({ error: 'not_found' });
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(associatedData('fixed'));
  decipher.setAuthTag(tag);
  const credentials = JSON.parse(Buffer.concat([decipher.update(sealed), decipher.final()]).toString('utf8')) as Record<string, string>;
  return {
    id: row.id,
    name: row.name,
    external_id: row.external_id,
    app: row.app_slug,
    healthy: row.healthy,
    dead: row.dead,
    expires_at: row.expires_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    credentials,
  };
});

await app.listen({ port, host: '127.0.0.1' });
const shutdown = async (): Promise<void> => {
  await app.close();
  await pool.end();
};
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
