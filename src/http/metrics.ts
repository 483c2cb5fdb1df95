// Prometheus metrics, on a registry of this app's own (tests build many apps). /metrics tells how
// busy a replica is, which clients and routes it serves and its memory, so it is not public:
//   LATCHKEY_METRICS_PORT  — served only on a listener of its own (buildApp's metricsServer,
//                            started by server.ts), never on the service port;
//   LATCHKEY_METRICS_TOKEN — a bearer /metrics requires, wherever it is served (compared by digest);
//   neither                — served openly on the service port in development (local use, the
//                            benchmarks), not served at all in production (a warning says so).
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ApiError } from '../errors.ts';
import { bearerOf } from './bearer.ts';
import { registerErrorHandling, sendError } from './error-handler.ts';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsExposure {
  readonly mode: 'development' | 'production';
  readonly token: string | undefined;
  readonly port: number | undefined;
}

/** Counts every request of `app` into `registry` (whether or not `app` serves /metrics). */
export function recordRequestMetrics(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: 'latchkey_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  // Each labelled series is looked up once and kept: prom-client otherwise hashes the label
  // object on every inc/observe. The key space is bounded by routes × methods × statuses.
  const series = new Map<string, { count: Counter.Internal; time: Histogram.Internal<'method' | 'route'> }>();
  const seriesOf = (method: string, route: string, status: number) => {
    const key = `${method} ${status} ${route}`;
    let found = series.get(key);
    if (found === undefined) {
      found = { count: requests.labels(method, route, String(status)), time: duration.labels(method, route) };
      series.set(key, found);
    }
    return found;
  };
  // A callback hook: no promise per request.
  app.addHook('onResponse', (request, reply, done) => {
    const { count, time } = seriesOf(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
    count.inc();
    time.observe(reply.elapsedTime / 1000);
    done();
  });
}

/** Adds GET /metrics to `app`, behind the bearer when one is configured. */
function serveMetrics(app: FastifyInstance, registry: Registry, token: string | undefined): void {
  const digest = token === undefined ? undefined : sha256(token);
  app.get('/metrics', { schema: { hide: true } }, async (request: FastifyRequest, reply: FastifyReply) => {
    if (digest !== undefined) {
      const presented = bearerOf(request);
      if (presented === undefined || !timingSafeEqual(sha256(presented), digest)) {
        void reply.header('www-authenticate', 'Bearer realm="latchkey-metrics"');
        return sendError(request, reply, new ApiError('unauthorized', 'the metrics bearer is missing or wrong'));
      }
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

/**
 * Wires the metrics of the service `app` as `exposure` says, and returns the separate metrics
 * listener when there is one (not yet listening: server.ts starts it, tests inject into it).
 */
export function registerMetrics(app: FastifyInstance, registry: Registry, exposure: MetricsExposure): FastifyInstance | undefined {
  recordRequestMetrics(app, registry);
  if (exposure.port !== undefined) {
    const metricsServer = Fastify({ logger: false });
    registerErrorHandling(metricsServer);
    serveMetrics(metricsServer, registry, exposure.token);
    app.addHook('onClose', async () => metricsServer.close());
    return metricsServer;
  }
  if (exposure.token !== undefined || exposure.mode === 'development') serveMetrics(app, registry, exposure.token);
  else app.log.warn('/metrics is not served: set LATCHKEY_METRICS_TOKEN (a bearer) or LATCHKEY_METRICS_PORT (a listener of its own)');
  return undefined;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
