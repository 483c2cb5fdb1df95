// GET /sdk/connect.js (an ES module) and /sdk/connect.d.ts. Loaded cross-origin by customers'
// pages as `<script type="module">`, which browsers fetch in CORS mode: hence the CORS header.
// The content only changes with a latchkey release; the ETag lets caches revalidate.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CONNECT_DTS, CONNECT_JS } from './connect-script.ts';

const LONG_CACHE = 'public, max-age=31536000, immutable';

interface Asset {
  readonly body: string;
  readonly contentType: string;
  readonly etag: string;
}

function asset(body: string, contentType: string): Asset {
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, { body, contentType, etag }: Asset): FastifyReply {
  void reply
    .header('content-type', contentType)
    .header('cache-control', LONG_CACHE)
    .header('etag', etag)
    .header('access-control-allow-origin', '*')
    .header('cross-origin-resource-policy', 'cross-origin')
    .header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.code(200).send(body);
}

export function sdkFrontendRoutes(): FastifyPluginAsyncTypebox {
  const script = asset(CONNECT_JS, 'text/javascript; charset=utf-8');
  const types = asset(CONNECT_DTS, 'text/plain; charset=utf-8');
  return async (app) => {
    app.get(
      '/sdk/connect.js',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'Browser ES module: connectAccount() opens the Connect Link in an iframe or popup',
          response: {
            200: { description: 'JavaScript module', content: { 'text/javascript': { schema: Type.String() } } },
            304: { description: 'not modified', type: 'null' },
          },
        },
      },
      async (request, reply) => sendAsset(request, reply, script),
    );
    app.get(
      '/sdk/connect.d.ts',
      {
        schema: {
          tags: ['connect-link'],
          summary: 'TypeScript declarations for /sdk/connect.js',
          response: {
            200: { description: 'TypeScript declarations', content: { 'text/plain': { schema: Type.String() } } },
            304: { description: 'not modified', type: 'null' },
          },
        },
      },
      async (request, reply) => sendAsset(request, reply, types),
    );
  };
}
