// What can go wrong with an outbound request, as one typed error with a catalogue code and a
// stable reason. Callers store the reason (webhook last_error) or answer with the code (the
// proxy: 403 / 502 / 504); neither ever carries the URL, which may hold a customer's token.
import { ApiError } from '../errors.ts';

/** The catalogue codes an egress failure maps to (src/errors.ts). */
export type EgressErrorCode = 'host_not_allowed' | 'upstream_unreachable' | 'upstream_timeout' | 'upstream_response_too_large';

/** Why a destination was refused before any byte was sent. */
export type RefusalReason =
  'invalid_url' | 'scheme_not_allowed' | 'userinfo_not_allowed' | 'name_single_label' | 'name_local_only' | 'name_embeds_ip' | `address_${AddressRefusal}`;

/** Why an IP address is not one latchkey connects to (see address-policy.ts). */
export type AddressRefusal =
  | 'metadata'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'carrier_grade_nat'
  | 'multicast'
  | 'broadcast'
  | 'unspecified'
  | 'reserved'
  | 'unique_local'
  | 'site_local'
  | 'tunnel'
  | 'not_global_unicast';

/** Which deadline ran out. */
export type TimeoutPhase = 'connect' | 'first_byte' | 'body' | 'total';

export class EgressError extends Error {
  override name = 'EgressError';

  constructor(
    readonly code: EgressErrorCode,
    /** Stable and value-free: a RefusalReason, a TimeoutPhase, or a system error code such as ECONNREFUSED. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${reason}`, options);
  }
}

export const refusal = (reason: RefusalReason): EgressError => new EgressError('host_not_allowed', reason);

/** The first EgressError in an error's cause chain (undici and fetch wrap what a lookup threw). */
export function findEgressError(err: unknown): EgressError | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    if (current instanceof EgressError) return current;
  }
  return undefined;
}

/** For routes (the proxy): the catalogue error, with the reason as a detail and nothing else. */
export function egressApiError(err: EgressError): ApiError {
  return new ApiError(err.code, undefined, { cause: err, details: { reason: err.reason } });
}
