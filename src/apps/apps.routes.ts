// GET /v1/connect/apps, /v1/connect/apps/{app_id} (Pipedream's Apps resource) and the generated
// logo of apps without an image (brand mark or monogram). Lookups only ever touch the in-memory registry: the id is
// checked against the slug pattern before anything else, so no request reaches the file system.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Authenticator } from '../auth/authenticate.ts';
import { PageInfoSchema } from '../http/page-info.ts';
import { EnvironmentHeaderSchema, ErrorResponseSchema } from '../http/schemas.ts';
import { SLUG_REGEX, type AppRegistry } from '../registry/registry.ts';
import { AppSchema, type AppViews } from './app-view.ts';
import { DEFAULT_APPS_LIMIT, MAX_APPS_LIMIT, findApp, listApps } from './apps.service.ts';
import type { BrandIcons } from './brand-icons.ts';
import { monogramSvg } from './monogram.ts';

const AppIdParamsSchema = Type.Object({
  // The slug pattern, optionally after app_: lookups never reach anything but the registry.
  app_id: Type.String({ pattern: `^(?:app_)?${SLUG_REGEX.source.slice(1)}`, description: 'the app slug (github) or id (app_github)' }),
});

const CursorSchema = Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$', description: 'page_info.start_cursor or end_cursor of another page' });

const ListAppsQuerySchema = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 100, description: 'case-insensitive substring of the name, slug or a category' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_APPS_LIMIT, default: DEFAULT_APPS_LIMIT })),
  after: Type.Optional(CursorSchema),
  before: Type.Optional(CursorSchema),
  sort_key: Type.Optional(Type.Union([Type.Literal('name'), Type.Literal('name_slug'), Type.Literal('featured_weight')], { default: 'name_slug' })),
  sort_direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
  category_ids: Type.Optional(
    Type.Union([Type.String({ maxLength: 60 }), Type.Array(Type.String({ maxLength: 60 }), { maxItems: 20 })], { description: 'category names' }),
  ),
  // Pipedream filters on its component catalogue; latchkey has none. Accepted so SDK calls work.
  has_components: Type.Optional(Type.Boolean()),
  has_actions: Type.Optional(Type.Boolean()),
  has_triggers: Type.Optional(Type.Boolean()),
});

const security = [{ bearerAuth: [] }];
const headers = EnvironmentHeaderSchema;

export function appsRoutes(deps: { registry: AppRegistry; auth: Authenticator; appViews: AppViews; brandIcons: BrandIcons }): FastifyPluginAsyncTypebox {
  const { registry, auth, appViews, brandIcons } = deps;
  return async (app) => {
    app.get(
      '/v1/connect/apps',
      {
        onRequest: auth.requireClient(),
        schema: {
          tags: ['apps'],
          summary: 'List the apps of the registry, with search and cursor pagination',
          security,
          headers,
          querystring: ListAppsQuerySchema,
          response: { 200: Type.Object({ data: Type.Array(AppSchema), page_info: PageInfoSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const page = listApps(registry, request.query);
        return { data: page.data.map((entry) => appViews.of(entry, entry.slug)), page_info: page.page_info };
      },
    );

    app.get(
      '/v1/connect/apps/:app_id',
      {
        onRequest: auth.requireClient(),
        schema: {
          tags: ['apps'],
          summary: 'One app of the registry, by slug or id',
          security,
          headers,
          params: AppIdParamsSchema,
          response: { 200: Type.Object({ data: AppSchema }), '4xx': ErrorResponseSchema },
        },
      },
      async (request) => {
        const entry = findApp(registry, request.params.app_id);
        return { data: appViews.of(entry, entry.slug) };
      },
    );

    // Browsers ask every page's origin for /favicon.ico; the hosted pages allow images from
    // latchkey itself, so a 404 here would be an error in every page's console.
    app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('image/svg+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=604800')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(monogramSvg('latchkey', 'latchkey')),
    );

    // Public: browsers load img_src in <img> tags, which carry no bearer token.
    app.get(
      '/v1/connect/apps/:app_id/icon.svg',
      {
        schema: {
          tags: ['apps'],
          summary: "An app's logo (the img_src of apps without their own image): its brand mark, or a generated monogram",
          params: AppIdParamsSchema,
          response: { 200: Type.String({ description: 'image/svg+xml' }), '4xx': ErrorResponseSchema },
        },
      },
      async (request, reply) => {
        const entry = findApp(registry, request.params.app_id);
        return (
          reply
            .type('image/svg+xml; charset=utf-8')
            // Logos change only with a new latchkey release: a week in every cache.
            .header('cache-control', 'public, max-age=604800')
            .header('x-content-type-options', 'nosniff')
            .header('content-security-policy', "default-src 'none'; sandbox")
            .send(brandIcons.svgFor(entry) ?? monogramSvg(entry.name, entry.slug))
        );
      },
    );
  };
}
