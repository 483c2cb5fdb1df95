// The registry entry as Pipedream's `App` object. Only public, descriptive fields: never
// endpoints or secrets. Prefer src/apps/app-view.ts (toAppView), the canonical shape with the
// monogram img_src fallback; this publicUrl-free variant remains for callers without one.
import type { AppDefinition } from '../registry/schema.ts';

export interface AppSummary {
  id: string;
  name_slug: string;
  name: string;
  auth_type: AppDefinition['auth_type'];
  description: string | null;
  img_src: string;
  custom_fields_json: string;
  categories: string[];
  featured_weight: number;
  scope_profiles: { name: string; description?: string; scopes: string[] }[];
}

export function toAppSummary(app: AppDefinition): AppSummary {
  return {
    // Registry apps have no separate id: `app_<slug>`, accepted wherever a slug is.
    id: `app_${app.slug}`,
    name_slug: app.slug,
    name: app.name,
    auth_type: app.auth_type,
    description: app.description ?? null,
    img_src: app.img_src ?? '',
    custom_fields_json: JSON.stringify(
      (app.fields ?? []).map((field) => ({
        name: field.name,
        label: field.label,
        type: 'string',
        secret: field.secret ?? false,
        optional: field.optional ?? false,
      })),
    ),
    categories: [...(app.categories ?? [])],
    featured_weight: app.featured_weight ?? 0,
    scope_profiles: app.auth_type === 'oauth' ? (app.scope_profiles ?? []).map((profile) => ({ ...profile, scopes: [...profile.scopes] })) : [],
  };
}
