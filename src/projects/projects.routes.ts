// /v1/connect/{project_id}/webhook[/regenerate_signing_key] (the SDK's projectEnvironment
// resource) and /v1/connect/{project_id}/projects/info (projects.retrieveInfo).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AuditLog } from '../audit/audit-log.ts';
import { actorOf, audited } from '../audit/audited.ts';
import type { Authenticator, Principal } from '../auth/authenticate.ts';
import type { EnvironmentName } from '../db/types.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import {
  deleteProjectWebhook,
  getProjectWebhook,
  projectInfo,
  regenerateSigningKey,
  setProjectWebhook,
  type ProjectWebhookDeps,
} from './project-webhook.service.ts';

const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String({ description: 'empty when only the signing key exists (it also signs connect-token webhooks)' }),
    signing_key: Type.Optional(Type.String({ description: 'whsec_…; present only when the key was just created or regenerated' })),
    signing_key_set: Type.Boolean(),
    created_at: Type.Integer({ description: 'unix seconds' }),
    updated_at: Type.Integer({ description: 'unix seconds' }),
  },
  { $id: 'ProjectWebhook' },
);

export function projectRoutes(deps: ProjectWebhookDeps & { auth: Authenticator; auditLog: AuditLog }): FastifyPluginAsyncTypebox {
  const { auth, auditLog } = deps;
  const entry = (request: { params: { project_id: string }; environment: EnvironmentName; principal: Principal | null }, action: string) => ({
    projectId: request.params.project_id,
    environment: request.environment,
    actor: actorOf(request.principal),
    action,
  });
  const security = [{ bearerAuth: [] }];
  const headers = EnvironmentHeaderSchema;
  const tags = ['project'];
  return async (app) => {
    app.get(
      '/v1/connect/:project_id/webhook',
      {
        onRequest: auth.requireProjectScope('connect:project:read'),
        schema: {
          tags,
          summary: "The project environment's webhook (data is null when none is set)",
          security,
          headers,
          params: ProjectIdParamsSchema,
          response: { 200: Type.Object({ data: Type.Union([WebhookSchema, Type.Null()]) }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => ({ data: await getProjectWebhook(deps, { projectId: request.params.project_id, environment: request.environment }) }),
    );

    app.put(
      '/v1/connect/:project_id/webhook',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Set the webhook URL; the first time, the response carries the signing key',
          security,
          headers,
          params: ProjectIdParamsSchema,
          body: Type.Object({ url: Type.String({ minLength: 1, maxLength: 2048 }) }, { additionalProperties: false }),
          response: { 200: Type.Object({ data: WebhookSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) =>
        reply.header('cache-control', 'no-store').send({
          data: await audited(auditLog, entry(request, 'webhook.set'), () =>
            setProjectWebhook(deps, { projectId: request.params.project_id, environment: request.environment }, request.body.url),
          ),
        }),
    );

    app.delete(
      '/v1/connect/:project_id/webhook',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Remove the webhook URL (the signing key stays: it also signs connect-token webhooks)',
          security,
          headers,
          params: ProjectIdParamsSchema,
          response: { 204: Type.Null(), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        await audited(auditLog, entry(request, 'webhook.delete'), () =>
          deleteProjectWebhook(deps, { projectId: request.params.project_id, environment: request.environment }),
        );
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/connect/:project_id/webhook/regenerate_signing_key',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: {
          tags,
          summary: 'Replace the signing key; the new key is in this response only',
          security,
          headers,
          params: ProjectIdParamsSchema,
          response: { 200: Type.Object({ data: WebhookSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) =>
        reply.header('cache-control', 'no-store').send({
          data: await audited(auditLog, entry(request, 'webhook.signing_key.regenerate'), () =>
            regenerateSigningKey(deps, { projectId: request.params.project_id, environment: request.environment }),
          ),
        }),
    );

    app.get(
      '/v1/connect/:project_id/projects/info',
      {
        onRequest: auth.requireProjectScope('connect:project:read'),
        schema: {
          tags,
          summary: 'Apps the project environment uses (accounts or OAuth apps)',
          security,
          headers,
          params: ProjectIdParamsSchema,
          response: { 200: Type.Object({ apps: Type.Array(Type.Object({ id: Type.String(), name_slug: Type.String() })) }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => projectInfo(deps, { projectId: request.params.project_id, environment: request.environment }),
    );
  };
}
