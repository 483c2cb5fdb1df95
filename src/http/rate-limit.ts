// Request rate limits, counted by @fastify/rate-limit's in-memory store: per replica, so N
// replicas allow N times the limit (README: rate limits). Each limit is a hook of its own that
// throws the catalogue's 429 with Retry-After, so several can apply to one request (the plugin's
// own route hooks run only once per request) and each route's error handler shapes the body.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';

export interface RateLimit {
  /** Names the limit in the key, so two limits never share a counter. */
  readonly name: string;
  /** Requests allowed per key and minute. */
  readonly perMinute: number;
  /** The key a request counts against; undefined: the request is not counted by this limit. */
  readonly keyOf: (request: FastifyRequest) => string | undefined;
}

export type RateLimitHook = (request: FastifyRequest) => Promise<void>;

const MINUTE_MS = 60_000;

/** Registers the store (no limit of its own); call once on the root, before limitHook. */
export async function registerRateLimits(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, { global: false });
}

/** A hook (onRequest or preHandler) enforcing `limit`. */
export function limitHook(app: FastifyInstance, limit: RateLimit): RateLimitHook {
  const check = app.createRateLimit({
    max: limit.perMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: (request) => `${limit.name}:${limit.keyOf(request) ?? ''}`,
    allowList: (request) => limit.keyOf(request) === undefined,
  });
  return async (request) => {
    const outcome = await check(request);
    if (outcome.isAllowed || !outcome.isExceeded) return;
    throw new ApiError('too_many_requests', `too many requests (${limit.name}); retry later`, { retryAfterSeconds: Math.max(1, outcome.ttlInSeconds) });
  };
}
