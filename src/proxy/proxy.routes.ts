// GET | POST | PUT | PATCH | DELETE /v1/connect/{project_id}/proxy/{url_64}?external_user_id=…&account_id=…
// Pipedream's Connect proxy, so @pipedream/sdk's proxy.* work unchanged. The route does HTTP
// only: the scope, the project's rate limit, url_64, the raw body; proxy.service.ts does the
// rest. Every authenticated call is an audit entry and a metric, written when the answer has
// been sent (its bytes counted): who, which account, method, host, path — never a query value,
// a header or a body.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { AuditLog, AuditResult } from '../audit/audit-log.ts';
import { actorOf } from '../audit/audited.ts';
import type { Authenticator } from '../auth/authenticate.ts';
import { ApiError, badRequest } from '../errors.ts';
import { AccountIdSchema, EnvironmentHeaderSchema, ErrorResponseSchema, ExternalUserIdSchema, ProjectIdParamsSchema } from '../http/schemas.ts';
import { takeRequestBody } from './proxy-bodies.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';
import { proxyRequest, type ProxyDeps, type ProxyTrace } from './proxy.service.ts';
import { ProjectRateLimiter, type RateLimitSettings } from './rate-limit.ts';
import { decodeUrl64 } from './url-64.ts';

export const PROXY_SCOPE = 'connect:proxy';

export interface ProxyRouteDeps extends ProxyDeps {
  readonly auth: Authenticator;
  readonly auditLog: AuditLog;
  readonly metrics: ProxyMetrics;
  readonly rateLimit: RateLimitSettings;
  readonly now: () => Date;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const Params = Type.Object({
  project_id: ProjectIdParamsSchema.properties.project_id,
  url_64: Type.String({
    minLength: 1,
    maxLength: 8192,
    description: 'The upstream URL (query included), or a path relative to the app’s api.base_url, in base64: standard or URL-safe, padded or not',
  }),
});
const Query = Type.Object(
  {
    external_user_id: ExternalUserIdSchema,
    account_id: AccountIdSchema,
  },
  { additionalProperties: false },
);

interface Call extends ProxyTrace {
  readonly startedMs: number;
  errorCode?: string;
}

export function proxyRoutes(deps: ProxyRouteDeps): FastifyPluginAsyncTypebox {
  const limiter = new ProjectRateLimiter(deps.rateLimit, () => deps.now().getTime());
  const calls = new WeakMap<FastifyRequest, Call>();

  const handle = async (
    request: FastifyRequest<{ Params: { project_id: string; url_64: string }; Querystring: { external_user_id: string; account_id: string } }>,
    reply: FastifyReply,
  ) => {
    const call: Call = { startedMs: performance.now(), upstream: false, retried: false, requestBytes: 0 };
    calls.set(request, call);
    try {
      const decision = limiter.take(request.params.project_id);
      if (!decision.allowed) {
        throw new ApiError('too_many_requests', 'the project made too many proxy calls in this window; retry after Retry-After', {
          retryAfterSeconds: decision.retryAfterSeconds,
        });
      }
      const target = decodeUrl64(request.params.url_64);
      if (target === undefined) throw badRequest('url_64 must be the base64 of a URL or a path');
      const body = await takeRequestBody(request.body, request.headers['content-length'], deps.settings.bodies);
      const answer = await proxyRequest(deps, {
        scope: { projectId: request.params.project_id, environment: request.environment },
        externalUserId: request.query.external_user_id,
        accountId: request.query.account_id,
        method: request.method as Dispatcher.HttpMethod,
        target,
        headers: request.headers,
        body,
        trace: call,
      });
      void reply.code(answer.status).headers(answer.headers);
      return reply.send(answer.body ?? undefined);
    } catch (err) {
      call.errorCode = err instanceof ApiError ? err.code : 'internal_error';
      throw err;
    }
  };

  const record = async (request: FastifyRequest, reply: FastifyReply) => {
    const call = calls.get(request);
    const principal = request.principal;
    // Unauthenticated calls are not recorded: anyone on the network could fill the table.
    if (call === undefined || principal === null) return;
    const status = reply.statusCode;
    const source = call.upstream && call.errorCode === undefined ? 'upstream' : 'latchkey';
    const durationMs = performance.now() - call.startedMs;
    const responseBytes = call.response?.bytes ?? 0;
    deps.metrics.observe({ app: call.app ?? 'unknown', status, source, seconds: durationMs / 1000, responseBytes });
    const params = request.params as { project_id: string };
    const query = request.query as { account_id?: string };
    deps.auditLog.record({
      projectId: params.project_id,
      environment: request.environment,
      actor: actorOf(principal),
      action: 'proxy.request',
      accountId: query.account_id ?? null,
      result: source === 'upstream' ? 'ok' : resultOf(status),
      details: {
        app: call.app ?? null,
        method: request.method,
        host: call.host ?? null,
        path: call.path ?? null,
        status,
        source,
        retried: call.retried,
        request_bytes: call.requestBytes,
        response_bytes: responseBytes,
        duration_ms: Math.round(durationMs),
        ...(call.errorCode === undefined ? {} : { error_code: call.errorCode }),
      },
    });
  };

  return async (app) => {
    // Bodies go to the upstream as they came (JSON, forms, multipart, binary): nothing is parsed.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    app.addHook('onResponse', record);
    for (const method of METHODS) {
      app.route({
        method,
        url: '/v1/connect/:project_id/proxy/:url_64',
        exposeHeadRoute: false,
        onRequest: deps.auth.requireProjectScope(PROXY_SCOPE),
        schema: {
          tags: ['proxy'],
          summary: `${method} through the Connect proxy with an account's credentials`,
          description:
            'The request goes to the upstream with the account’s credential injected as the app’s registry entry says (api.auth), to an allowed host only, over https. ' +
            'Upstream headers travel as x-pd-proxy-<name>; the answer is the upstream’s status, headers (without set-cookie and hop-by-hop headers) and body, streamed. ' +
            'Redirects are returned, never followed. An OAuth 401 is retried once after a refresh when the body can be replayed. ' +
            'Errors of the proxy itself (403 host_not_allowed, 404, 429 too_many_requests, 502 upstream_unreachable, 504 upstream_timeout) carry the error body.',
          security: [{ bearerAuth: [] }],
          headers: EnvironmentHeaderSchema,
          params: Params,
          querystring: Query,
          response: {
            '2xx': Type.Unknown({ description: 'The upstream’s answer, as it came' }),
            '4xx': ErrorResponseSchema,
            '5xx': ErrorResponseSchema,
          },
        },
        handler: handle,
      });
    }
  };
}

function resultOf(status: number): AuditResult {
  if (status === 401 || status === 403 || status === 429) return 'denied';
  if (status === 400 || status === 413) return 'invalid';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 503) return 'unavailable';
  return 'error';
}
