// The error catalogue: every error a client can see, with a stable code and HTTP status, in
// three tables that share it —
//   ERROR_CATALOGUE      the JSON API's codes (the `error.code` of every error body);
//   OAUTH_TOKEN_ERRORS   RFC 6749 §5.2's codes, the only body /v1/oauth/token answers with;
//   CONNECT_FLOW_ERRORS  every way the hosted Connect flow can stop: the page the end user sees,
//                        and the kind the backend gets (error_redirect_uri, CONNECTION_ERROR,
//                        postMessage); each names the catalogue code that gives its status.
// Messages are lower-case (pages excepted: they are sentences for people), name the parameter,
// and never contain a value the caller sent or a secret; evidence for operators travels in
// `cause` and reaches only the log.

export const ERROR_CATALOGUE = {
  bad_request: { status: 400, title: 'the request is malformed' },
  validation_failed: { status: 400, title: 'a parameter is missing or invalid' },
  unauthorized: { status: 401, title: 'missing or invalid credentials' },
  forbidden: { status: 403, title: 'the credentials do not allow this' },
  not_found: { status: 404, title: 'no such resource' },
  method_not_allowed: { status: 405, title: 'method not allowed' },
  conflict: { status: 409, title: 'the resource is in a conflicting state' },
  gone: { status: 410, title: 'the resource is no longer usable' },
  request_timeout: { status: 408, title: 'the request took too long to arrive' },
  payload_too_large: { status: 413, title: 'the request body is too large' },
  unsupported_media_type: { status: 415, title: 'unsupported content type' },
  too_many_requests: { status: 429, title: 'too many requests' },
  request_header_too_large: { status: 431, title: 'the request headers are too large' },
  internal_error: { status: 500, title: 'internal error' },
  // A Pipedream Connect resource latchkey does not serve (actions, triggers, workflows, …).
  not_supported: { status: 501, title: 'latchkey does not serve this resource' },
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

// ─── RFC 6749 §5.2: the token endpoint's errors ─────────────────────────────────────────────

/** §5.2 plus §5.2's server_error (RFC 6749 §4.1.2.1 names it; token endpoints answer it on a 500). */
export const OAUTH_TOKEN_ERRORS = {
  invalid_request: { status: 400 },
  /** §5.2: 401 with WWW-Authenticate when the client authenticated (or tried to) by HTTP Basic. */
  invalid_client: { status: 401 },
  unsupported_grant_type: { status: 400 },
  invalid_scope: { status: 400 },
  /** RFC 8628 §3.5 (in the OAuth Extensions Error Registry): a rate limit, with Retry-After. */
  slow_down: { status: 429 },
  server_error: { status: 500 },
  /** RFC 6749 §4.1.2.1's code, at the token endpoint: the secret verification pool is full (Retry-After). */
  temporarily_unavailable: { status: 503 },
} as const;

export type OAuthTokenErrorCode = keyof typeof OAUTH_TOKEN_ERRORS;

// ─── the hosted Connect flow ─────────────────────────────────────────────────────────────────

interface ConnectFlowErrorEntry {
  readonly code: ErrorCode;
  readonly title: string;
  readonly message: string;
  /** Starting again from the same Connect Link can succeed: the error page offers "Try again". */
  readonly retry?: true;
}

export const CONNECT_FLOW_ERRORS = {
  link_invalid: { code: 'bad_request', title: 'This link is not valid', message: 'The link is malformed. Ask the app that sent you here for a new link.' },
  token_missing: {
    code: 'bad_request',
    title: 'This link is incomplete',
    message: 'The link has no connect token. Ask the app that sent you here for a new link.',
  },
  token_invalid: {
    code: 'unauthorized',
    title: 'This link is not valid',
    message: 'The connect token is invalid. Ask the app that sent you here for a new link.',
  },
  token_expired: {
    code: 'unauthorized',
    title: 'This link has expired',
    message: 'The connect token has expired. Ask the app that sent you here for a new link.',
  },
  token_used: {
    code: 'gone',
    title: 'This link was already used',
    message: 'Each link can connect one account. Ask the app that sent you here for a new link.',
  },
  app_missing: { code: 'bad_request', title: 'No app was named', message: 'The link does not say which app to connect.' },
  app_unknown: { code: 'not_found', title: 'App not found', message: 'The app this link names does not exist.' },
  app_not_allowed: { code: 'forbidden', title: 'This link is for another app', message: 'The connect token does not allow connecting this app.' },
  app_not_configured: {
    code: 'conflict',
    title: 'This app is not configured',
    message: 'This app has no OAuth client set up for this project yet. Contact the app that sent you here.',
  },
  app_not_connectable: { code: 'bad_request', title: 'Nothing to connect', message: 'This app does not need an account.' },
  account_not_allowed: {
    code: 'forbidden',
    title: 'This account cannot be reconnected here',
    message: 'The account to reconnect does not belong to this link.',
  },
  fields_invalid: { code: 'validation_failed', title: 'Check the values you entered', message: 'Some values are missing or not in the expected format.' },
  state_invalid: {
    code: 'bad_request',
    title: 'This sign-in could not be verified',
    message: 'The response does not match a sign-in started in this browser. Start again from the app that sent you here.',
    retry: true,
  },
  state_expired: {
    code: 'bad_request',
    title: 'This sign-in took too long',
    message: 'The sign-in expired. Start again from the app that sent you here.',
    retry: true,
  },
  issuer_mismatch: {
    code: 'bad_request',
    title: 'This sign-in could not be verified',
    message: 'The response came from a different authorization server than the one we sent you to.',
    retry: true,
  },
  access_denied: {
    code: 'forbidden',
    title: 'Access was not granted',
    message: 'You declined the authorization request, so no account was connected.',
    retry: true,
  },
  provider_error: { code: 'provider_error', title: 'Connection failed', message: 'The provider returned an error. Please try again later.', retry: true },
  result_unknown: { code: 'not_found', title: 'Nothing to show', message: 'This result is no longer available. You can close this window.' },
  internal_error: {
    code: 'internal_error',
    title: 'Something went wrong',
    message: 'The connection could not be completed. Please try again later.',
    retry: true,
  },
  test_request_failed: {
    code: 'validation_failed',
    title: 'Connection failed',
    message: 'Test request failed. Please verify your credentials and try again.',
  },
  account_mismatch: {
    code: 'conflict',
    title: 'This is a different account',
    message: 'You signed in to another account than the one being reconnected. Sign in with that account, or ask the app that sent you here for a new link.',
    retry: true,
  },
  // Machine grants (client credentials, JWT bearer): the first token is minted on the form's submit.
  credentials_rejected: {
    code: 'validation_failed',
    title: 'Connection failed',
    message: 'The provider did not accept these credentials. Check the client ID, secret or key and try again.',
  },
  key_unusable: {
    code: 'validation_failed',
    title: 'Connection failed',
    message: 'The key could not be used: paste the whole private key or key file (RS256: an RSA key of 2048 bits or more; ES256: a P-256 key) and try again.',
  },
  // Forced account linking (security catalogue 56): a form post that no page of ours in this browser sent.
  request_cross_site: {
    code: 'forbidden',
    title: 'This request was refused',
    message: 'The form was not sent from this page. Open the link again from the app that sent you here.',
    retry: true,
  },
  form_token_invalid: { code: 'forbidden', title: 'This page has expired', message: 'Reload the page and try again.', retry: true },
  // Security catalogue 62: a connect token allows a handful of key-form attempts, then it is burned.
  // Remote MCP servers (src/mcp/): the server's or its authorization server's metadata is missing
  // or fails a check (RFC 9728 resource, RFC 8414 issuer, S256), or registration was refused.
  mcp_discovery_failed: {
    code: 'provider_error',
    title: 'This server cannot be connected',
    message: 'The server did not describe how to sign in to it, or its description failed a security check. Please try again later.',
    retry: true,
  },
  mcp_registration_failed: {
    code: 'provider_error',
    title: 'This server cannot be connected',
    message: 'The server’s sign-in service did not accept this app. Please try again later.',
    retry: true,
  },
  attempts_exhausted: {
    code: 'too_many_requests',
    title: 'Too many attempts',
    message: 'This link allowed a few attempts and all of them were used. Ask the app that sent you here for a new link.',
  },
} as const satisfies Record<string, ConnectFlowErrorEntry>;

export type ConnectFlowErrorKind = keyof typeof CONNECT_FLOW_ERRORS;

/** Whether starting again from the same Connect Link can succeed after this error. */
export function flowErrorAllowsRetry(kind: ConnectFlowErrorKind): boolean {
  const entry: ConnectFlowErrorEntry = CONNECT_FLOW_ERRORS[kind];
  return entry.retry === true;
}

export function isConnectFlowErrorKind(value: string): value is ConnectFlowErrorKind {
  return Object.hasOwn(CONNECT_FLOW_ERRORS, value);
}

export class ConnectFlowError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly title: string;
  /** The connect token's allowed_origins once it is known: the error page may be framed by and postMessage to them. */
  allowedOrigins: readonly string[] = [];
  /** The token's error_redirect_uri (with `error=<kind>`) once it is known: the page's "Return" link. */
  returnUrl: string | null = null;
  /** The token's project once it is known: the page shows who is asking (its branding). */
  projectId: string | null = null;

  constructor(
    readonly kind: ConnectFlowErrorKind,
    options?: { cause?: unknown; detail?: string },
  ) {
    const entry: ConnectFlowErrorEntry = CONNECT_FLOW_ERRORS[kind];
    super(options?.detail ?? entry.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectFlowError';
    this.code = entry.code;
    this.status = ERROR_CATALOGUE[entry.code].status;
    this.title = entry.title;
  }
}

export const flowError = (kind: ConnectFlowErrorKind, cause?: unknown): ConnectFlowError =>
  new ConnectFlowError(kind, cause === undefined ? undefined : { cause });
