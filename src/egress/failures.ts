// Turns whatever an outbound request threw (undici's errors, a socket's system error, an abort)
// into one EgressError, so a caller handles three outcomes — refused, unreachable, timed out —
// and never parses messages.
import { EgressError, findEgressError } from './egress-error.ts';

const UNDICI_TIMEOUTS: Readonly<Record<string, 'connect' | 'first_byte' | 'body'>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'first_byte',
  UND_ERR_BODY_TIMEOUT: 'body',
};

/**
 * @param totalDeadline the request's own deadline signal: when it fired, the failure is a
 *   `total` timeout whatever undici reports (an abort surfaces as several different errors).
 */
export function classifyEgressFailure(err: unknown, totalDeadline?: AbortSignal): EgressError {
  const known = findEgressError(err);
  if (known !== undefined) return known;
  if (totalDeadline?.aborted === true) return new EgressError('upstream_timeout', 'total', { cause: err });
  const code = errorCode(err);
  if (code !== undefined) {
    const phase = UNDICI_TIMEOUTS[code];
    if (phase !== undefined) return new EgressError('upstream_timeout', phase, { cause: err });
    if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new EgressError('upstream_response_too_large', 'max_bytes', { cause: err });
    if (code === 'ETIMEDOUT') return new EgressError('upstream_timeout', 'connect', { cause: err });
    return new EgressError('upstream_unreachable', code, { cause: err });
  }
  return new EgressError('upstream_unreachable', 'request_failed', { cause: err });
}

/** A system (ECONNREFUSED) or undici (UND_ERR_SOCKET) code, from the error or what it wraps. */
function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
  }
  return undefined;
}
