// cfmap_json: Pipedream's field values of a key-based app, a JSON object sent as a string.
import { badRequest } from '../errors.ts';

export const MAX_CFMAP_FIELDS = 50;

/** The values by field name; strings only (numbers and booleans are what a caller means as text). */
export function parseCfmap(raw: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest('cfmap_json must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('cfmap_json must be a JSON object');
  const entries = Object.entries(parsed);
  if (entries.length > MAX_CFMAP_FIELDS) throw badRequest(`cfmap_json must have at most ${MAX_CFMAP_FIELDS} fields`);
  const values: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (typeof value === 'string') values[name] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') values[name] = String(value);
    else if (value !== null) throw badRequest('cfmap_json values must be strings');
  }
  return values;
}
