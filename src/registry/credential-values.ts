// Stored credential values under the names the registry entry uses today. A field renamed to
// Pipedream's `$auth` name keeps its older names as aliases, so an account stored before the
// rename still reads under the new name; a choice field added later (a region) reads as its
// default for accounts stored before it existed. Pure: the stored row is never rewritten here.
import type { RegistryApp } from './registry.ts';

/**
 * The values keyed by current field names: an alias's value moves to its field's name (a value
 * under the current name wins), a missing choice takes the field's default, every other key
 * (tokens, kept token values) passes through untouched.
 */
export function currentCredentialValues<V extends string | null>(
  app: Pick<RegistryApp, 'fields'>,
  stored: Readonly<Record<string, V>>,
): Record<string, V | string> {
  const values: Record<string, V | string> = { ...stored };
  for (const field of app.fields) {
    for (const alias of field.aliases) {
      const old = values[alias];
      delete values[alias];
      if (values[field.name] === undefined && old !== undefined) values[field.name] = old;
    }
    if (values[field.name] === undefined && field.default !== undefined) values[field.name] = field.default;
  }
  return values;
}
