// Projects and API clients: the use cases behind the admin API and the CLI.
import type { Kysely } from 'kysely';
import { DEFAULT_SCOPES, isKnownScope } from '../auth/scopes.ts';
import { hashSecret } from '../crypto/passwords.ts';
import { TOKEN_PREFIXES, mintId, mintToken } from '../crypto/tokens.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { badRequest, notFound } from '../errors.ts';
import { insertClient, listClientsOfProject, revokeClient, type ClientRow } from '../auth/clients.repository.ts';
import { findProjectById, insertProjectWithEnvironments, listProjects, type ProjectRow } from './projects.repository.ts';

export interface ProjectView {
  id: string;
  name: string;
  created_at: string;
}

export interface ClientView {
  client_id: string;
  project_id: string;
  name: string;
  scopes: string[];
  /** The one environment the client may act in; null: both. */
  environment: EnvironmentName | null;
  created_at: string;
  revoked_at: string | null;
}

export function toProjectView(row: ProjectRow): ProjectView {
  return { id: row.id, name: row.name, created_at: row.created_at.toISOString() };
}

function toClientView(row: ClientRow): ClientView {
  return {
    client_id: row.id,
    project_id: row.project_id,
    name: row.name,
    scopes: row.scopes.split(' ').filter(Boolean),
    environment: row.environment,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

export async function createProject(db: Kysely<Database>, name: string): Promise<ProjectView> {
  return toProjectView(await insertProjectWithEnvironments(db, { id: mintId('proj_', 20), name }));
}

export async function listAllProjects(db: Kysely<Database>): Promise<ProjectView[]> {
  return (await listProjects(db)).map(toProjectView);
}

export async function requireProject(db: Kysely<Database>, projectId: string): Promise<ProjectRow> {
  const project = await findProjectById(db, projectId);
  if (project === undefined) throw notFound('project');
  return project;
}

/** Creates a client; the secret is returned here once and stored only as an argon2id hash. */
export async function createClient(
  db: Kysely<Database>,
  projectId: string,
  input: { name?: string | undefined; scopes?: readonly string[] | undefined; environment?: EnvironmentName | undefined },
): Promise<ClientView & { client_secret: string }> {
  await requireProject(db, projectId);
  const scopes = input.scopes ?? DEFAULT_SCOPES;
  if (scopes.length === 0) throw badRequest('body scopes must not be empty');
  const unknown = scopes.find((scope) => !isKnownScope(scope));
  if (unknown !== undefined) throw badRequest('body scopes contains an unknown scope');
  const secret = mintToken(TOKEN_PREFIXES.clientSecret);
  const row = await insertClient(db, {
    id: mintId('lkc_', 24),
    project_id: projectId,
    name: input.name ?? 'default',
    scopes: [...new Set(scopes)].join(' '),
    secret_hash: await hashSecret(secret),
    environment: input.environment ?? null,
  });
  return { ...toClientView(row), client_secret: secret };
}

export async function listClients(db: Kysely<Database>, projectId: string): Promise<ClientView[]> {
  await requireProject(db, projectId);
  return (await listClientsOfProject(db, projectId)).map(toClientView);
}

export async function revokeProjectClient(db: Kysely<Database>, projectId: string, clientId: string): Promise<void> {
  await requireProject(db, projectId);
  if (!(await revokeClient(db, projectId, clientId))) throw notFound('client');
}
