// GET /v1/admin/keys/status — which KEK is active, which are configured, and how many data keys
// each wraps (a KEK can be retired once its count is zero). Ids and counts only, never material.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import type { Keyring } from '../crypto/keyring.ts';
import type { Database } from '../db/types.ts';
import { ErrorResponseSchema } from '../http/schemas.ts';
import { keyStatus } from '../keys/rotation.ts';

const KeyStatusSchema = Type.Object(
  {
    active_kek_id: Type.String(),
    configured_kek_ids: Type.Array(Type.String()),
    data_keys_by_kek: Type.Array(
      Type.Object({
        kek_id: Type.String(),
        count: Type.Integer(),
        configured: Type.Boolean({ description: 'false: data keys wrapped by a KEK this server no longer has — they cannot be opened' }),
      }),
    ),
  },
  { $id: 'KeyStatus' },
);

export function keysAdminRoutes(deps: { db: Kysely<Database>; keyring: Keyring }): FastifyPluginAsyncTypebox {
  const { db, keyring } = deps;
  return async (app) => {
    app.get(
      '/v1/admin/keys/status',
      {
        schema: {
          tags: ['admin'],
          summary: 'Keyring status: active KEK, configured KEKs, data keys per KEK (never key material)',
          security: [{ adminToken: [] }],
          response: { 200: KeyStatusSchema, '4xx': ErrorResponseSchema },
        },
      },
      async () => {
        const status = await keyStatus(db, keyring);
        return { active_kek_id: status.activeKekId, configured_kek_ids: [...status.configuredKekIds], data_keys_by_kek: status.dataKeysByKek };
      },
    );
  };
}
