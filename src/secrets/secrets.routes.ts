// /v1/connect/{project_id}/secrets[/{name}]: the project environment's secrets. Listing answers
// names only; a value needs connect:secrets:read and every read of one is audited, as credential
// reads are; writing and deleting need connect:secrets:write.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf, audited } from '../audit/audited.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { Authenticator, Principal } from '../auth/authenticate.ts';
import { scopeGrants } from '../auth/scopes.ts';
import { ApiError, notFound } from '../errors.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { SECRET_NAME_REGEX, SECRET_VALUE_MAX_BYTES } from './secret-name.ts';
import { listSecrets, readSecret, removeSecret, writeSecret, type SecretKey, type SecretsDeps } from './secrets.service.ts';

const READ_SCOPE = 'connect:secrets:read';

const SecretParamsSchema = Type.Object({
  project_id: ProjectIdParamsSchema.properties.project_id,
  name: Type.String({ pattern: SECRET_NAME_REGEX.source, description: 'an environment variable name: A-Z, 0-9 and _, starting with a letter' }),
});

const SecretSchema = Type.Object(
  { name: Type.String(), created_at: Type.String({ format: 'date-time' }), updated_at: Type.String({ format: 'date-time' }) },
  { $id: 'ProjectSecret', description: 'A project secret, without its value' },
);
const SecretWithValueSchema = Type.Object({
  name: Type.String(),
  value: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export function secretsRoutes(deps: SecretsDeps & { auth: Authenticator; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { auth, auditLog } = deps;
  const security = [{ bearerAuth: [] }];
  const tags = ['secrets'];
  const headers = EnvironmentHeaderSchema;
  const errors = { '4xx': ErrorResponseSchema, '5xx': ErrorResponseSchema };

  const keyOf = (request: { params: { project_id: string; name: string }; environment: SecretKey['environment'] }): SecretKey => ({
    projectId: request.params.project_id,
    environment: request.environment,
    name: request.params.name,
  });

  return async (app) => {
    app.get(
      '/v1/connect/:project_id/secrets',
      {
        onRequest: auth.requireProjectScope(READ_SCOPE),
        schema: {
          tags,
          summary: "The names of the project environment's secrets (never their values)",
          security,
          headers,
          params: ProjectIdParamsSchema,
          response: { 200: Type.Object({ data: Type.Array(SecretSchema) }), ...errors },
        },
      },
      async (request) => ({ data: await listSecrets(deps, request.params.project_id, request.environment) }),
    );

    app.get(
      '/v1/connect/:project_id/secrets/:name',
      {
        // Authenticated here, the scope checked in the handler: a refused read is audited with
        // the client that tried, as a refused credential read is.
        onRequest: auth.requireClient(),
        schema: {
          tags,
          summary: 'Read a secret (audited)',
          security,
          headers,
          params: SecretParamsSchema,
          response: { 200: SecretWithValueSchema, ...errors },
        },
      },
      async (request) => {
        const principal = request.principal;
        if (principal === null || principal.kind !== 'client' || principal.projectId !== request.params.project_id) throw notFound('project');
        const key = keyOf(request);
        return audited(auditLog, entryOf(request, 'secret.read', key), async () => {
          if (!scopeGrants(principal.scopes, READ_SCOPE)) throw new ApiError('forbidden', `the token lacks scope ${READ_SCOPE}`);
          return readSecret(deps, key);
        });
      },
    );

    app.put(
      '/v1/connect/:project_id/secrets/:name',
      {
        onRequest: auth.requireProjectScope('connect:secrets:write'),
        schema: {
          tags,
          summary: 'Create or replace a secret (201 when created, 200 when replaced)',
          description: `The value is sealed with the project's data key, bound to project, environment and name; at most ${SECRET_VALUE_MAX_BYTES} bytes of UTF-8.`,
          security,
          headers,
          params: SecretParamsSchema,
          body: Type.Object({ value: Type.String({ minLength: 1, maxLength: SECRET_VALUE_MAX_BYTES }) }, { additionalProperties: false }),
          response: { 200: SecretSchema, 201: SecretSchema, ...errors },
        },
      },
      async (request, reply) => {
        const key = keyOf(request);
        const { created, view } = await audited(auditLog, entryOf(request, 'secret.write', key), () => writeSecret(deps, key, request.body.value));
        return reply.code(created ? 201 : 200).send(view);
      },
    );

    app.delete(
      '/v1/connect/:project_id/secrets/:name',
      {
        onRequest: auth.requireProjectScope('connect:secrets:write'),
        schema: { tags, summary: 'Delete a secret', security, headers, params: SecretParamsSchema, response: { 204: Type.Null(), ...errors } },
      },
      async (request, reply) => {
        const key = keyOf(request);
        await audited(auditLog, entryOf(request, 'secret.delete', key), () => removeSecret(deps, key));
        return reply.code(204).send(null);
      },
    );
  };
}

/** The audit entry of a secret action: the name, never the value. */
function entryOf(request: { principal: Principal | null }, action: string, key: SecretKey): Omit<AuditEntry, 'result'> {
  return { projectId: key.projectId, environment: key.environment, actor: actorOf(request.principal), action, details: { name: key.name } };
}
