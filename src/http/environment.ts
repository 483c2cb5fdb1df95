// The environment of every call is the x-pd-environment header (Pipedream's contract);
// production when absent. The two environments' data never mix.
import type { FastifyRequest } from 'fastify';
import type { EnvironmentName } from '../db/types.ts';
import { badRequest } from '../errors.ts';

export function requestEnvironment(request: FastifyRequest): EnvironmentName {
  const raw = request.headers['x-pd-environment'];
  if (raw === undefined || raw === '') return 'production';
  if (raw === 'production' || raw === 'development') return raw;
  throw badRequest('x-pd-environment must be development or production');
}
