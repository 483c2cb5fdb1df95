// pino options: no query strings (OAuth callbacks carry code and state), no headers, no bodies,
// and error serializers that keep name/message/stack only, because HTTP-client errors carry
// the provider's response payload (tokens included) in their properties. Every token format
// latchkey mints is redacted from URLs, messages, error messages and top-level string fields
// (log-redaction.ts), whatever route the URL did or did not match.
//
// One line per request ("request completed", written when the response is done), not Fastify's
// two: on the credential fetch the log was the largest cost latchkey added to a request, and
// most of a line's cost was pino's path-based redaction (about 12–25 µs a line against 2 µs
// without). That line is built only from the serializers below (id, method, path, ip, status,
// time), none of which holds a secret field, so it is written by a child logger without the
// path-based redaction; its URL still goes through redactUrl (every minted token format), and
// every other line (handlers, errors, jobs) keeps both.
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions, type LoggerOptions } from 'pino';
import { redactLogFields, redactSecrets, redactUrl } from './log-redaction.ts';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.code',
  '*.code_verifier',
  '*.state',
  '*.api_key',
  '*.token',
  '*.secret',
  '*.password',
  '*.credentials',
];

interface LoggedRequest {
  id: string;
  method: string;
  url: string;
  ip?: string;
}

export function serializeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { type: typeof err };
  const out: Record<string, unknown> = {
    type: err.name,
    message: redactSecrets(err.message),
    stack: err.stack === undefined ? undefined : redactSecrets(err.stack),
  };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') out['code'] = code;
  if (err.cause !== undefined && depth < 3) out['cause'] = serializeError(err.cause, depth + 1);
  return out;
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    serializers: {
      req: (req: LoggedRequest) => ({ id: req.id, method: req.method, url: redactUrl(req.url), ip: req.ip }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      err: (err: unknown) => serializeError(err),
    },
    formatters: { log: redactLogFields },
    hooks: {
      // The message and its printf arguments (serializers and formatters see only the object).
      logMethod(args, method) {
        method.apply(this, args.map((arg: unknown) => (typeof arg === 'string' ? redactSecrets(arg) : arg)) as Parameters<typeof method>);
      },
    },
  };
}

/**
 * stdout, written asynchronously: a line is queued and lines that pile up while a write is in
 * flight go out in one write, instead of one blocking write(2) per line on the request path.
 * pino flushes what is queued when the process exits.
 */
function asyncStdout(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

export function createLogger(level: string, destination: pino.DestinationStream = asyncStdout()): pino.Logger {
  return pino(loggerOptions(level), destination);
}

/** Fastify's request lines, reduced to one per request (see the top of this file). */
export class OneLinePerRequest extends LogController {
  private readonly lines: FastifyBaseLogger;

  constructor(logger: FastifyBaseLogger) {
    super();
    this.lines = logger.child({}, { redact: [] });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // A failed response (a stream error after the headers) may carry anything: the redacting logger.
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else this.lines.info({ reqId: request.id, req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

type AnyLogFn = (...args: unknown[]) => void;

/**
 * Fastify gives every request a child logger bound to its id. Most requests write only their one
 * line (OneLinePerRequest, which needs no child), so the child is made the first time the request
 * logs anything else (making one is a pino child: bindings serialised, a prototype chain).
 */
class LazyRequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  fatal(...args: unknown[]): void {
    (this.logger.fatal as AnyLogFn)(...args);
  }
  error(...args: unknown[]): void {
    (this.logger.error as AnyLogFn)(...args);
  }
  warn(...args: unknown[]): void {
    (this.logger.warn as AnyLogFn)(...args);
  }
  info(...args: unknown[]): void {
    (this.logger.info as AnyLogFn)(...args);
  }
  debug(...args: unknown[]): void {
    (this.logger.debug as AnyLogFn)(...args);
  }
  trace(...args: unknown[]): void {
    (this.logger.trace as AnyLogFn)(...args);
  }
  silent(...args: unknown[]): void {
    (this.logger.silent as AnyLogFn)(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}

/** Fastify's childLoggerFactory: each request's logger, made on first use. */
export function lazyRequestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
