// The error catalogue: every error a client can see, with a stable code and HTTP status.
// Messages are lower-case, name the parameter, and never contain a value the caller sent
// or a secret; evidence for operators travels in `cause` and reaches only the log.

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, title: 'the request is malformed' },
  validation_failed: { status: 400, title: 'a parameter is missing or invalid' },
  unauthorized: { status: 401, title: 'missing or invalid credentials' },
  forbidden: { status: 403, title: 'the credentials do not allow this' },
  not_found: { status: 404, title: 'no such resource' },
  method_not_allowed: { status: 405, title: 'method not allowed' },
  conflict: { status: 409, title: 'the resource is in a conflicting state' },
  gone: { status: 410, title: 'the resource is no longer usable' },
  payload_too_large: { status: 413, title: 'the request body is too large' },
  unsupported_media_type: { status: 415, title: 'unsupported content type' },
  too_many_requests: { status: 429, title: 'too many requests' },
  internal_error: { status: 500, title: 'internal error' },
  credential_unreadable: { status: 500, title: 'a stored credential could not be decrypted' },
  provider_error: { status: 502, title: 'the provider answered with an error' },
  service_unavailable: { status: 503, title: 'temporarily unavailable, retry later' },
  refresh_in_progress: { status: 503, title: 'a refresh of this account is in progress, retry shortly' },
  provider_unavailable: { status: 503, title: 'the provider is unavailable, retry later' },
  account_dead: { status: 409, title: 'the account needs to be reconnected' },
  // Egress (src/egress/): a host latchkey refuses to send to, and an upstream that failed it.
  host_not_allowed: { status: 403, title: 'the destination host is not allowed' },
  upstream_unreachable: { status: 502, title: 'the upstream could not be reached' },
  upstream_response_too_large: { status: 502, title: 'the upstream response is too large' },
  upstream_timeout: { status: 504, title: 'the upstream did not answer in time' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CATALOGUE[code].title,
    options?: { cause?: unknown; retryAfterSeconds?: number; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.status = ERROR_CATALOGUE[code].status;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.details = options?.details;
  }

  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;
}

export const notFound = (what: string): ApiError => new ApiError('not_found', `${what} not found`);
export const badRequest = (message: string): ApiError => new ApiError('validation_failed', message);
export const unauthorized = (message = 'missing or invalid bearer token'): ApiError => new ApiError('unauthorized', message);
export const forbidden = (message: string): ApiError => new ApiError('forbidden', message);

/** The JSON body of every error response (RFC 6749 errors on /v1/oauth/token excepted). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; details?: Record<string, unknown> };
}
