// Audit details are context (an app slug, a client id, a field that changed), never evidence of a
// secret. Callers should not pass secrets; this is the backstop: keys whose name looks secret are
// dropped at any depth, values shaped like our own tokens are dropped, and size is bounded so a
// caller cannot turn the audit table into a data dump. Every string and key is made storable
// (storable.ts): one NUL or lone surrogate would make `jsonb` refuse the whole batch.
import { TOKEN_PREFIXES, hasValidTokenShape } from '../crypto/tokens.ts';
import { storableText } from './storable.ts';

const SECRET_KEY =
  /token|secret|passw|api[-_]?key|apikey|private[-_]?key|signing[-_]?key|authorization|cookie|credential|code[-_]?verifier|^code$|session|assertion|^key$|^pin$/i;
const MAX_DEPTH = 4;
const MAX_KEYS = 50;
const MAX_ARRAY = 50;
const MAX_STRING = 500;
const PREFIXES = Object.values(TOKEN_PREFIXES);

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

function looksLikeOurToken(value: string): boolean {
  return PREFIXES.some((prefix) => value.startsWith(prefix) && hasValidTokenShape(value, prefix));
}

function clean(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') {
    if (looksLikeOurToken(value)) return undefined;
    // Cut before making it storable: a cut between the halves of a surrogate pair leaves a lone one.
    return storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
  }
  if (value instanceof Date) return value.toISOString();
  if (depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    return value
      .slice(0, MAX_ARRAY)
      .map((item) => clean(item, depth + 1))
      .filter((item) => item !== undefined);
  }
  if (typeof value === 'object') return sanitizeObject(value as Record<string, unknown>, depth + 1);
  return undefined;
}

function sanitizeObject(input: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const [key, value] of Object.entries(input)) {
    if (kept >= MAX_KEYS) break;
    if (isSecretKey(key)) continue;
    const cleaned = clean(value, depth);
    if (cleaned === undefined) continue;
    out[storableText(key)] = cleaned;
    kept += 1;
  }
  return out;
}

/** A copy of `details` without secret-looking keys or token-shaped values, bounded in size. */
export function sanitizeDetails(details: Record<string, unknown>): Record<string, unknown> {
  return sanitizeObject(details, 0);
}
