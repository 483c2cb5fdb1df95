// The loaded app registry, as the rest of latchkey sees it.
import type { AppDefinition } from './schema.ts';

export interface AppRegistry {
  /** Undefined for an unknown slug; callers check the slug's shape before asking. */
  get(slug: string): AppDefinition | undefined;
  /** Every app, sorted by slug. */
  list(): readonly AppDefinition[];
}

export function registryFromDefinitions(definitions: readonly AppDefinition[]): AppRegistry {
  const bySlug = new Map(definitions.map((app) => [app.slug, app]));
  const sorted = Object.freeze([...definitions].sort((a, b) => a.slug.localeCompare(b.slug)));
  return { get: (slug) => bySlug.get(slug), list: () => sorted };
}
