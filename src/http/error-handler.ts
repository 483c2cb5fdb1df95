// Turns every thrown error into the catalogue's JSON body. Anything unexpected becomes a bare
// 500 `internal_error`: the detail goes to the log, never to the client.
import { EgressError, egressApiError } from '../egress/egress-error.ts';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CATALOGUE, type ErrorBody, type ErrorCode } from '../errors.ts';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
};

export function toApiError(error: FastifyError | Error): ApiError {
  if (error instanceof ApiError) return error;
  // An egress failure that surfaces here (a streamed upstream answer that broke before its first
  // byte was sent) is the catalogue's 502/504, not an internal error.
  if (error instanceof EgressError) return egressApiError(error);
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) return new ApiError('validation_failed', describeValidation(fastifyError));
  const mapped = fastifyError.code === undefined ? undefined : FASTIFY_CODES[fastifyError.code];
  if (mapped !== undefined) return new ApiError(mapped);
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) return new ApiError('bad_request', 'the request body is not valid JSON');
  if (fastifyError.statusCode === 413) return new ApiError('payload_too_large');
  if (fastifyError.statusCode === 415) return new ApiError('unsupported_media_type');
  return new ApiError('internal_error', ERROR_CATALOGUE.internal_error.title, { cause: error });
}

function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  if (first === undefined) return 'invalid request';
  const where = error.validationContext ?? 'request';
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const pointer = missing !== undefined ? `${first.instancePath}/${missing}` : first.instancePath;
  const name = pointer.replace(/^\//, '').replace(/\//g, '.') || where;
  return `${where === 'body' || where === 'querystring' || where === 'params' || where === 'headers' ? `${where} ` : ''}${name} ${first.message ?? 'is invalid'}`
    .replace(/\s+/g, ' ')
    .trim();
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  const body: ErrorBody = { error: { code: error.code, message: error.message, request_id: request.id } };
  if (error.details !== undefined) body.error.details = error.details;
  return reply.code(error.status).type('application/json; charset=utf-8').send(body);
}

/**
 * Fastify's `frameworkErrors`: URLs the router rejects before any route or hook runs (bad
 * percent-encoding, a parameter over maxParamLength). Fastify's own body would echo the path,
 * which may carry a token, and would not be the catalogue's body.
 */
export function sendFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  void reply.header('x-request-id', request.id);
  if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    request.log.info({ code: error.code }, 'request rejected');
    return sendError(request, reply, new ApiError('bad_request', 'the request path is malformed'));
  }
  request.log.error({ err: error }, 'request failed');
  return sendError(request, reply, toApiError(error));
}

export interface ErrorHandlingOptions {
  /** Asked before a 404 for an unknown route: another error to answer instead (app.ts: 501 for Pipedream resources latchkey does not serve). */
  readonly notFound?: (request: FastifyRequest, reply: FastifyReply) => Promise<ApiError | undefined>;
}

export function registerErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions = {}): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: apiError.code }, 'request rejected');
    return sendError(request, reply, apiError);
  });
  app.setNotFoundHandler(async (request, reply) => {
    const instead = await options.notFound?.(request, reply);
    return sendError(request, reply, instead ?? new ApiError('not_found', 'no such route'));
  });
}

const CLIENT_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'request_header_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP parser refuses before there is a request (headers
 * over the limit, a malformed request line, a NUL in a header, an unknown transfer coding). The
 * answer has the catalogue's body like every other error; its request id is minted here, since no
 * request was ever made.
 */
export function sendClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
  const code: ErrorCode = (error.code === undefined ? undefined : CLIENT_ERRORS[error.code]) ?? 'bad_request';
  const { status, title } = ERROR_CATALOGUE[code] as { status: number; title: string };
  const body: ErrorBody = { error: { code, message: title, request_id: randomUUID() } };
  const json = JSON.stringify(body);
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      `content-type: application/json; charset=utf-8`,
      `content-length: ${Buffer.byteLength(json)}`,
      `x-request-id: ${body.error.request_id}`,
      'connection: close',
      '',
      json,
    ].join('\r\n'),
  );
}
