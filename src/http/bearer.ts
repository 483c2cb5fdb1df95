// RFC 6750 §2.1: `Authorization: Bearer <token>`. The one parser, for the API's principals
// (auth/authenticate.ts) and the metrics bearer (metrics.ts).
import type { FastifyRequest } from 'fastify';

export function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}
