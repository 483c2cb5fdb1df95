// What the audit table can store: PostgreSQL refuses a NUL in `text` and `\u0000` in `jsonb`, and
// `jsonb` refuses an escaped lone surrogate (`"\ud83d"`, which JSON.stringify writes for one). The
// API refuses both at the edge (http/string-safety.ts), but audit entries also carry values from
// providers, the registry and the system itself, and one entry that cannot be stored must not
// stop the log: each such code unit becomes U+FFFD, which is what it would read as anyway.
import { UNSTORABLE_SOURCE } from '../http/string-safety.ts';

const UNSTORABLE = new RegExp(UNSTORABLE_SOURCE, 'g');

export function storableText(value: string): string;
export function storableText(value: string | null): string | null;
export function storableText(value: string | null): string | null {
  return value === null ? null : value.replace(UNSTORABLE, '\ufffd');
}
