// /healthz: the process is up. /readyz: it can reach its database (load balancers route on it).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

export function registerHealth(app: FastifyInstance, ping: () => Promise<void>, isShuttingDown: () => boolean): void {
  const Status = Type.Object({ status: Type.String() });
  app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness', response: { 200: Status } } }, async () => ({ status: 'ok' }));
  app.get(
    '/readyz',
    { schema: { tags: ['ops'], summary: 'Readiness: database reachable and not shutting down', response: { 200: Status, 503: Status } } },
    async (request, reply) => {
      if (isShuttingDown()) return reply.code(503).send({ status: 'shutting_down' });
      try {
        await ping();
        return { status: 'ready' };
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'database_unreachable' });
      }
    },
  );
}
