// Every way the connect flow can stop, with the page the end user sees and the `error` the
// backend gets (error_redirect_uri, CONNECTION_ERROR, postMessage). Messages never contain a
// value from the request or the provider; evidence goes in `cause`, which only the log sees.

export const FLOW_ERRORS = {
  link_invalid: { status: 400, title: 'This link is not valid', message: 'The link is malformed. Ask the app that sent you here for a new link.' },
  token_missing: { status: 400, title: 'This link is incomplete', message: 'The link has no connect token. Ask the app that sent you here for a new link.' },
  token_invalid: { status: 401, title: 'This link is not valid', message: 'The connect token is invalid. Ask the app that sent you here for a new link.' },
  token_expired: { status: 401, title: 'This link has expired', message: 'The connect token has expired. Ask the app that sent you here for a new link.' },
  token_used: {
    status: 410,
    title: 'This link was already used',
    message: 'Each link can connect one account. Ask the app that sent you here for a new link.',
  },
  app_missing: { status: 400, title: 'No app was named', message: 'The link does not say which app to connect.' },
  app_unknown: { status: 404, title: 'App not found', message: 'The app this link names does not exist.' },
  app_not_allowed: { status: 403, title: 'This link is for another app', message: 'The connect token does not allow connecting this app.' },
  app_not_configured: {
    status: 409,
    title: 'This app is not configured',
    message: 'This app has no OAuth client set up for this project yet. Contact the app that sent you here.',
  },
  app_not_connectable: { status: 400, title: 'Nothing to connect', message: 'This app does not need an account.' },
  account_not_allowed: { status: 403, title: 'This account cannot be reconnected here', message: 'The account to reconnect does not belong to this link.' },
  fields_invalid: { status: 400, title: 'Check the values you entered', message: 'Some values are missing or not in the expected format.' },
  state_invalid: {
    status: 400,
    title: 'This sign-in could not be verified',
    message: 'The response does not match a sign-in started in this browser. Start again from the app that sent you here.',
  },
  state_expired: { status: 400, title: 'This sign-in took too long', message: 'The sign-in expired. Start again from the app that sent you here.' },
  issuer_mismatch: {
    status: 400,
    title: 'This sign-in could not be verified',
    message: 'The response came from a different authorization server than the one we sent you to.',
  },
  access_denied: { status: 403, title: 'Access was not granted', message: 'You declined the authorization request, so no account was connected.' },
  provider_error: { status: 502, title: 'Connection failed', message: 'The provider returned an error. Please try again later.' },
  result_unknown: { status: 404, title: 'Nothing to show', message: 'This result is no longer available. You can close this window.' },
  internal_error: { status: 500, title: 'Something went wrong', message: 'The connection could not be completed. Please try again later.' },
  test_request_failed: {
    status: 400,
    title: 'Connection failed',
    message: 'Test request failed. Please verify your credentials and try again.',
  },
} as const;

export type FlowErrorKind = keyof typeof FLOW_ERRORS;

export class ConnectFlowError extends Error {
  readonly status: number;
  readonly title: string;
  /** The connect token's allowed_origins once it is known: the error page may be framed by and postMessage to them. */
  allowedOrigins: readonly string[] = [];

  constructor(
    readonly kind: FlowErrorKind,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(options?.detail ?? FLOW_ERRORS[kind].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectFlowError';
    this.status = FLOW_ERRORS[kind].status;
    this.title = FLOW_ERRORS[kind].title;
  }
}

export const flowError = (kind: FlowErrorKind, cause?: unknown): ConnectFlowError => new ConnectFlowError(kind, cause === undefined ? undefined : { cause });
