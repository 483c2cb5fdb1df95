// One outbound HTTP request through the guarded dispatcher, with the deadlines every caller
// needs: first byte (response headers), idle time between body chunks, and a total deadline
// that also covers reading the body. Redirects are never followed: undici.request does not
// follow them, and a 30x comes back as a response for the caller to treat as it must.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { checkDeclaredLength } from './body-limit.ts';
import { checkDestination, type EgressPolicy } from './destination-policy.ts';
import { classifyEgressFailure } from './failures.ts';

export interface EgressTimeouts {
  /** From sending the request to the end of the response headers. */
  readonly firstByteMs: number;
  /** Whole exchange, body included; the response body errors once it passes. */
  readonly totalMs: number;
  /** Longest silence between two body chunks (default: firstByteMs). */
  readonly bodyIdleMs?: number;
}

export interface EgressRequestOptions {
  readonly method: Dispatcher.HttpMethod;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | Readable | null;
  readonly timeouts: EgressTimeouts;
  /** Refuse a declared Content-Length over this before reading (readCappedBody caps the rest). */
  readonly maxResponseBytes?: number;
  /** The caller's own cancellation (a client that went away). */
  readonly signal?: AbortSignal;
}

export interface EgressResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  /** Not yet read: stream it, readCappedBody() it, or dump() it. The total deadline still applies. */
  readonly body: Dispatcher.ResponseData['body'];
  /** Fires when the total deadline passes; hand it to readCappedBody / classifyEgressFailure. */
  readonly deadline: AbortSignal;
}

export interface EgressTransport {
  readonly policy: EgressPolicy;
  readonly dispatcher: Dispatcher;
}

/** Throws an EgressError (host_not_allowed, upstream_unreachable, upstream_timeout, upstream_response_too_large). */
export async function egressRequest(transport: EgressTransport, url: string | URL, options: EgressRequestOptions): Promise<EgressResponse> {
  // Checked here for a clear reason before any work; the dispatcher's connector checks again.
  const destination = checkDestination(url, transport.policy);
  const deadline = AbortSignal.timeout(options.timeouts.totalMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal]);
  let response: Dispatcher.ResponseData;
  try {
    response = await request(destination.url, {
      dispatcher: transport.dispatcher,
      method: options.method,
      headers: { ...options.headers },
      body: options.body ?? null,
      headersTimeout: options.timeouts.firstByteMs,
      bodyTimeout: options.timeouts.bodyIdleMs ?? options.timeouts.firstByteMs,
      signal,
    });
  } catch (err) {
    throw classifyEgressFailure(err, deadline);
  }
  if (options.maxResponseBytes !== undefined) {
    try {
      checkDeclaredLength(response.headers['content-length'], options.maxResponseBytes);
    } catch (err) {
      // Destroying an unread body makes undici emit an abort error; nobody is left to hear it.
      response.body.on('error', () => {}).destroy();
      throw err;
    }
  }
  return { statusCode: response.statusCode, headers: response.headers, body: response.body, deadline };
}
