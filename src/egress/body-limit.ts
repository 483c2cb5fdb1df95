// Response-size caps. An upstream decides how much it sends; latchkey decides how much it reads.
// A declared Content-Length over the cap is refused before reading, and a body that grows past
// it is cut off mid-stream (chunked bodies declare nothing).
import { Transform, type TransformCallback } from 'node:stream';
import { EgressError } from './egress-error.ts';
import { classifyEgressFailure } from './failures.ts';

export const tooLarge = (): EgressError => new EgressError('upstream_response_too_large', 'max_bytes');

/** Refuses a response whose declared length is already over the cap. */
export function checkDeclaredLength(contentLength: string | string[] | undefined, maxBytes: number): void {
  if (typeof contentLength !== 'string' || !/^\d{1,16}$/.test(contentLength)) return;
  if (Number(contentLength) > maxBytes) throw tooLarge();
}

/** A pass-through stream that fails with `upstream_response_too_large` past `maxBytes` (for streaming, the proxy). */
export function createByteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
}

interface ReadableBody extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): unknown;
}

/**
 * Reads a whole body into memory, at most `maxBytes` of it. Past the cap the body is destroyed
 * (the connection is not reused) and the call fails; a read error is classified like any other.
 */
export async function readCappedBody(body: ReadableBody, maxBytes: number, totalDeadline?: AbortSignal): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let seen = 0;
  try {
    for await (const chunk of body) {
      seen += chunk.length;
      if (seen > maxBytes) {
        const error = tooLarge();
        body.destroy(error);
        throw error;
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw classifyEgressFailure(err, totalDeadline);
  }
  return Buffer.concat(chunks);
}
