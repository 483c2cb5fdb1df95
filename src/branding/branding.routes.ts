// Who is asking: the SDK's projects.retrieve / update / updateLogo for the client's own project
// (/v1/connect/projects/{project_id}, Pipedream's bodies plus privacy_url and terms_url), the same
// for operators under /v1/admin/projects/{project_id}, and the logo the hosted pages load
// (/connect/projects/{project_id}/logo). Listing, creating and deleting projects stay admin-only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { actorOf, audited } from '../audit/audited.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import type { Database } from '../db/types.ts';
import { ApiError } from '../errors.ts';
import { ErrorResponseSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { findProjectLogo } from './branding.repository.ts';
import { MAX_LOGO_BYTES, MAX_NAME_LENGTH, retrieveProject, updateProject, updateProjectLogo } from './branding.service.ts';

const NullableText = (maxLength: number, description: string) => Type.Optional(Type.Union([Type.String({ maxLength }), Type.Null()], { description }));

const ProjectSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    app_name: Type.Union([Type.String(), Type.Null()], { description: 'shown on the hosted pages: "<app_name> uses latchkey to connect your … account"' }),
    support_email: Type.Union([Type.String(), Type.Null()]),
    privacy_url: Type.Union([Type.String(), Type.Null()]),
    terms_url: Type.Union([Type.String(), Type.Null()]),
    logo_url: Type.Union([Type.String(), Type.Null()], { description: 'path of the logo latchkey serves; null without one' }),
  },
  { $id: 'Project' },
);

const UpdateProjectBodySchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH })),
    app_name: NullableText(MAX_NAME_LENGTH, 'your product’s name as end users know it; empty or null clears it'),
    support_email: NullableText(254, 'where end users ask for help; empty or null clears it'),
    privacy_url: NullableText(2048, 'https link to your privacy policy (latchkey’s addition)'),
    terms_url: NullableText(2048, 'https link to your terms (latchkey’s addition)'),
    connect_require_key_auth_test: Type.Optional(
      Type.Boolean({ description: 'accepted for compatibility; a key app’s test request always runs when it has one' }),
    ),
  },
  { additionalProperties: false },
);

const LogoBodySchema = Type.Object(
  {
    logo: Type.String({
      // Room past the 256 kB image, so the service's check answers with the size it allows.
      maxLength: Math.ceil((MAX_LOGO_BYTES * 4) / 3) * 2,
      description: 'data:image/(png|jpeg|gif|webp);base64,…',
    }),
  },
  { additionalProperties: false },
);

export interface BrandingDeps {
  readonly db: Kysely<Database>;
  readonly auth: Authenticator;
  readonly auditLog: AuditLog;
}

export function brandingRoutes(deps: BrandingDeps): FastifyPluginAsyncTypebox {
  const { db, auth, auditLog } = deps;
  const errors = { '4xx': ErrorResponseSchema };
  const entry = (request: FastifyRequest<{ Params: { project_id: string } }>, action: string) => ({
    projectId: request.params.project_id,
    environment: null,
    actor: actorOf(request.principal),
    action,
  });

  return async (app) => {
    for (const side of ['connect', 'admin'] as const) {
      const base = side === 'connect' ? '/v1/connect/projects/:project_id' : '/v1/admin/projects/:project_id';
      const read = side === 'connect' ? auth.requireProjectScope('connect:project:read') : auth.requireAdmin;
      const write = side === 'connect' ? auth.requireProjectScope('connect:project:write') : auth.requireAdmin;
      const common = {
        tags: [side === 'connect' ? 'project' : 'admin'],
        security: [{ [side === 'connect' ? 'bearerAuth' : 'adminToken']: [] as string[] }],
        params: ProjectIdParamsSchema,
      };
      const who = side === 'connect' ? 'the API client’s own project' : 'a project';

      app.get(
        base,
        { onRequest: read, schema: { ...common, summary: `The branding of ${who} (projects.retrieve)`, response: { 200: ProjectSchema, ...errors } } },
        async (request) => retrieveProject(db, request.params.project_id),
      );

      app.patch(
        base,
        {
          onRequest: write,
          schema: {
            ...common,
            summary: `Set the name, app name, support email and links of ${who} (projects.update)`,
            body: UpdateProjectBodySchema,
            response: { 200: ProjectSchema, ...errors },
          },
        },
        async (request) => audited(auditLog, entry(request, 'project.update'), () => updateProject(db, request.params.project_id, request.body)),
      );

      app.post(
        `${base}/logo`,
        {
          onRequest: write,
          schema: {
            ...common,
            summary: `Set the logo of ${who} (projects.updateLogo): a PNG, JPEG, GIF or WebP of at most 256 kB`,
            body: LogoBodySchema,
            response: { 204: Type.Null(), ...errors },
          },
        },
        async (request, reply) => {
          await audited(auditLog, entry(request, 'project.update_logo'), () => updateProjectLogo(db, request.params.project_id, request.body.logo));
          return reply.code(204).send(null);
        },
      );
    }

    // The SDK's projects.list / create / delete: an API client belongs to one project and may not
    // see or make others (operators use /v1/admin/projects).
    const adminOnly = async (): Promise<never> => {
      throw new ApiError('forbidden', 'listing, creating and deleting projects is admin-only: use /v1/admin/projects');
    };
    const adminOnlySchema = (summary: string) => ({
      tags: ['project'],
      summary,
      security: [{ bearerAuth: [] }],
      response: { 403: ErrorResponseSchema, ...errors },
    });
    app.get('/v1/connect/projects', { onRequest: auth.requireClient(), schema: adminOnlySchema('projects.list: admin-only (403)') }, adminOnly);
    app.post('/v1/connect/projects', { onRequest: auth.requireClient(), schema: adminOnlySchema('projects.create: admin-only (403)') }, adminOnly);
    app.delete(
      '/v1/connect/projects/:project_id',
      {
        onRequest: auth.requireProjectScope('connect:project:write'),
        schema: { ...adminOnlySchema('projects.delete: admin-only (403)'), params: ProjectIdParamsSchema },
      },
      adminOnly,
    );

    app.get(
      '/connect/projects/:project_id/logo',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'The project’s logo, for the hosted pages',
          params: ProjectIdParamsSchema,
          response: { 200: { description: 'the image', content: { 'image/*': { schema: Type.String() } } }, 404: ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const found = await findProjectLogo(db, request.params.project_id);
        if (found?.logo == null || found.logo_type === null) throw new ApiError('not_found', 'logo not found');
        return sendImage(reply, found.logo, found.logo_type);
      },
    );
  };
}

/** The stored bytes as the type they were sniffed as; never rendered as a document (nosniff, sandbox). */
function sendImage(reply: FastifyReply, bytes: Buffer, type: string): FastifyReply {
  return reply
    .header('content-type', type)
    .header('cache-control', 'public, max-age=300')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('cross-origin-resource-policy', 'same-origin')
    .send(bytes);
}
