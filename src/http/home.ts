// GET /: where to go from here. A browser (it asks for HTML) is sent to the API docs; anything
// else gets the links as JSON, so `curl http://127.0.0.1:3000/` answers something useful.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

export const HOME_LINKS = {
  name: 'latchkey',
  description: 'Self-hosted OAuth credential broker with a Pipedream Connect compatible API',
  docs: '/docs',
  openapi: '/docs/json',
  health: '/healthz',
  apps: '/v1/connect/apps',
} as const;

const HomeSchema = Type.Object(Object.fromEntries(Object.keys(HOME_LINKS).map((key) => [key, Type.String()])), {
  description: 'links to the API docs, the OpenAPI document and the health check',
});

export function registerHome(app: FastifyInstance): void {
  app.get(
    '/',
    {
      schema: {
        tags: ['ops'],
        summary: 'Links to the docs; a browser is redirected to /docs',
        response: { 200: HomeSchema, 302: { description: 'to /docs (the request accepted text/html)', type: 'null' } },
      },
    },
    async (request, reply) => {
      if (/\btext\/html\b/.test(request.headers.accept ?? '')) return reply.redirect(HOME_LINKS.docs, 302);
      return HOME_LINKS;
    },
  );
}
