// pino options: no query strings (OAuth callbacks carry code and state), no headers, no bodies,
// and error serializers that keep name/message/stack only, because HTTP-client errors carry
// the provider's response payload (tokens included) in their properties. Every token format
// latchkey mints is redacted from URLs, messages, error messages and top-level string fields
// (log-redaction.ts), whatever route the URL did or did not match.
import pino, { type LoggerOptions } from 'pino';
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

export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  return destination === undefined ? pino(loggerOptions(level)) : pino(loggerOptions(level), destination);
}
