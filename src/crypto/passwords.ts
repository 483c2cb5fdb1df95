// API client secrets are stored only as argon2id PHC strings, with the OWASP minimum parameters
// set explicitly so a later raise can be detected from the stored string. Verification costs
// ~23 ms: it runs on /v1/oauth/token only, never on an API request.
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

const ARGON2ID = 2;
const OWASP_PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashSecret(secret: string): Promise<string> {
  return hash(secret, OWASP_PARAMETERS);
}

export async function verifySecret(phc: string, secret: string): Promise<boolean> {
  try {
    return await verify(phc, secret);
  } catch {
    return false;
  }
}

let decoy: Promise<string> | undefined;

/** A real hash to verify against when the client id is unknown, so timing does not tell. */
export function decoyHash(): Promise<string> {
  decoy ??= hash(randomBytes(24).toString('base64'), OWASP_PARAMETERS);
  return decoy;
}

/** The answer of a full pool: refused at once, nothing queued. */
export const VERIFIER_BUSY = Symbol('verifier busy');

/**
 * Whose secret is verified: a client that exists, or the decoy run for an unknown client id.
 * They share the running slots but queue apart, and known clients are served first: a flood of
 * made-up ids (which the per-client limit cannot count) fills only its own queue, so a real client
 * waits at most for the verifications already running. A flood of wrong secrets for a real id is
 * what the per-client and per-address limits bound.
 */
export type VerificationLane = 'known' | 'unknown';

/**
 * A small fixed pool for argon2 verifications: at most `concurrency` run at once (each holds a
 * libuv thread and a core for ~23 ms and 19 MiB), at most `queue` wait per lane, and any more are
 * refused at once with VERIFIER_BUSY. Unbounded, a flood of wrong secrets took every core and
 * starved the requests that need none of it (a credential fetch runs no argon2).
 */
export class SecretVerificationPool {
  private active = 0;
  private readonly waiting: Record<VerificationLane, (() => void)[]> = { known: [], unknown: [] };

  constructor(private readonly limits: { readonly concurrency: number; readonly queue: number }) {}

  /** Verifications running plus waiting (for metrics and tests). */
  get load(): number {
    return this.active + this.waiting.known.length + this.waiting.unknown.length;
  }

  async verify(phc: string, secret: string, lane: VerificationLane): Promise<boolean | typeof VERIFIER_BUSY> {
    if (this.active >= this.limits.concurrency) {
      const queue = this.waiting[lane];
      if (queue.length >= this.limits.queue) return VERIFIER_BUSY;
      await new Promise<void>((resolve) => queue.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await verifySecret(phc, secret);
    } finally {
      // Hand the slot straight to the next waiter, known clients first (active stays counted).
      const next = this.waiting.known.shift() ?? this.waiting.unknown.shift();
      if (next === undefined) this.active -= 1;
      else next();
    }
  }
}
