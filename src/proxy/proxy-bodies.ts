// The bodies that cross the proxy, both streamed byte for byte with a cap. A request body small
// enough to replay (declared by Content-Length under REPLAYABLE_BODY_BYTES) is read into memory
// first, so a 401 can be retried once after a refresh; a larger or chunked one is streamed and
// cannot be (the upstream has consumed it).
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { ApiError } from '../errors.ts';
import { tooLarge } from '../egress/body-limit.ts';

export interface BodyLimits {
  /** Largest request body forwarded (a declared larger one is a 413 before anything is sent). */
  readonly maxRequestBytes: number;
  /** Largest response body returned; past it the answer is cut off. */
  readonly maxResponseBytes: number;
  /** Request bodies up to this are buffered, so a 401 can be retried after a refresh. */
  readonly replayableBytes: number;
}

export type RequestBody =
  | { readonly kind: 'none' }
  | { readonly kind: 'buffered'; readonly bytes: Buffer }
  | { readonly kind: 'streamed'; readonly stream: Readable; readonly declaredLength: string | undefined; readonly counter: ByteCounter };

export interface ByteCounter {
  readonly bytes: number;
}

/** What the router's raw parser handed over (a stream), read or wrapped as the limits say. */
export async function takeRequestBody(payload: unknown, declaredLength: string | undefined, limits: BodyLimits): Promise<RequestBody> {
  if (!(payload instanceof Readable)) return { kind: 'none' };
  const declared = declaredLength !== undefined && /^\d{1,16}$/.test(declaredLength) ? Number(declaredLength) : undefined;
  if (declared !== undefined && declared > limits.maxRequestBytes) {
    payload.resume();
    throw new ApiError('payload_too_large');
  }
  if (declared === 0) return { kind: 'none' };
  if (declared !== undefined && declared <= limits.replayableBytes) return { kind: 'buffered', bytes: await readAll(payload, limits.replayableBytes) };
  const limited = countingLimit(limits.maxRequestBytes, () => new ApiError('payload_too_large'));
  payload.on('error', (err) => limited.destroy(err));
  // The upstream call reads this stream and fails with its error (413 past the cap). Once that
  // call has stopped reading (the upstream answered early, or it failed), nothing else listens,
  // and an error event without a listener would crash the process: this one keeps it handled.
  limited.on('error', () => {});
  return { kind: 'streamed', stream: payload.pipe(limited), declaredLength, counter: limited };
}

async function readAll(stream: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let seen = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > maxBytes) throw new ApiError('payload_too_large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export type CountingLimit = Transform & ByteCounter;

/** A pass-through that counts bytes and fails with `overflow()` past `maxBytes`. */
export function countingLimit(maxBytes: number, overflow: () => Error = tooLarge): CountingLimit {
  let seen = 0;
  const transform = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(overflow());
      else callback(null, chunk);
    },
  });
  return Object.defineProperty(transform, 'bytes', { get: () => seen }) as CountingLimit;
}
