// A fetch over the egress guard, for the test request (oauth/test-request.ts takes a fetch): the
// scheduled check sends user-entered values (a subdomain, an instance URL) to hosts on its own,
// so it goes where every request latchkey sends goes — public addresses only, connected to the
// address that was checked, no redirects. Undici's request answers a stream; it is handed back
// as a web Response so the test request reads it (and caps it) as it reads any fetch answer.
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { Dispatcher } from 'undici';
import type { EgressGuard } from '../egress/egress-guard.ts';

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export function guardedFetch(egress: EgressGuard, timeoutMs: number): typeof fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const response = await egress.request(request.url, {
      method: request.method as Dispatcher.HttpMethod,
      headers,
      ...(body === undefined ? {} : { body }),
      timeouts: { firstByteMs: timeoutMs, totalMs: timeoutMs },
      ...(init?.signal == null ? {} : { signal: init.signal }),
    });
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      for (const one of [value ?? []].flat()) responseHeaders.append(name, one);
    }
    const stream = NULL_BODY_STATUSES.has(response.statusCode) ? null : (Readable.toWeb(response.body) as ReadableStream<Uint8Array>);
    if (stream === null) response.body.resume();
    return new Response(stream as ConstructorParameters<typeof Response>[0], { status: response.statusCode, headers: responseHeaders });
  };
}
