// The serialiser's view of the response schemas: simple anyOf unions become type lists and
// enums, everything else is copied as written, and the JSON written is the same either way.
import fastJsonStringify from 'fast-json-stringify';
import { Type } from '@sinclair/typebox';
import t from 'tap';
import { AccountSchema } from '../../src/accounts/account-view.ts';
import { serializerSchema } from '../../src/http/serializer-schema.ts';

t.test('a primitive or null becomes a type list that keeps the primitive and outer keywords', async (t) => {
  const schema = Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'when' });
  t.same(serializerSchema(schema), { type: ['string', 'null'], format: 'date-time', description: 'when' });
  t.same(serializerSchema(Type.Union([Type.Null(), Type.Integer({ minimum: 0 })])), { type: ['integer', 'null'], minimum: 0 });
});

t.test('string constants become an enum', async (t) => {
  t.same(serializerSchema(Type.Union([Type.Literal('oauth'), Type.Literal('keys'), Type.Literal('none')])), {
    type: 'string',
    enum: ['oauth', 'keys', 'none'],
  });
});

t.test('any other union, and everything around it, is copied as written', async (t) => {
  const objectOrNull = Type.Union([Type.Object({ a: Type.String() }), Type.Null()]);
  const rewritten = serializerSchema(Type.Object({ pick: objectOrNull, list: Type.Array(Type.Union([Type.String(), Type.Number(), Type.Null()])) }));
  t.same(rewritten, {
    type: 'object',
    required: ['pick', 'list'],
    properties: {
      pick: { anyOf: [{ type: 'object', required: ['a'], properties: { a: { type: 'string' } } }, { type: 'null' }] },
      list: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] } },
    },
  });
  const mixedLiterals = Type.Union([Type.Literal('a'), Type.Literal(1)]);
  t.same(serializerSchema(mixedLiterals), {
    anyOf: [
      { const: 'a', type: 'string' },
      { const: 1, type: 'number' },
    ],
  });
});

t.test('an account serialises to the same JSON through the rewritten schema', async (t) => {
  const asWritten = fastJsonStringify(AccountSchema);
  const rewritten = fastJsonStringify(serializerSchema(AccountSchema) as typeof AccountSchema);
  const app = {
    id: 'app_github',
    name_slug: 'github',
    name: 'GitHub',
    auth_type: 'oauth',
    description: null,
    img_src: 'https://latchkey.example/v1/connect/apps/github/icon.svg',
    categories: ['Developer Tools'],
    featured_weight: 0,
    custom_fields_json: '[]',
    scope_profiles: [],
    credential_fields: ['oauth_access_token'],
  };
  const account = {
    id: 'apn_1',
    name: null,
    external_id: 'user-1',
    healthy: true,
    dead: false,
    app,
    created_at: '2026-12-01T18:56:12.436Z',
    updated_at: '2026-12-01T18:56:12.436Z',
    authorized_scopes: ['repo'],
    expires_at: '2026-12-01T19:56:12.436Z',
    last_refreshed_at: null,
    next_refresh_at: '2026-12-01T19:50:18.808Z',
    last_used_at: null,
    error: 'the provider answered 503',
    credentials: { oauth_access_token: 'gho_x', oauth_refresh_token: null, expires_at: null, api_host: 'api.github.com', extra: null },
  };
  const written = rewritten(account);
  t.equal(written, asWritten(account));
  t.same(JSON.parse(written), account);
});
