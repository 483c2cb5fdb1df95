// Every string the API takes is checked once, here, before any schema, service or query sees it:
// a NUL byte is a PostgreSQL error in `text` and `jsonb` (a 500, or an audit entry that blocks
// the audit log), and a lone UTF-16 surrogate cannot be stored as UTF-8 at all (`jsonb` refuses
// `"\ud83d"`; `text` silently turns it into U+FFFD, so what was stored is not what was sent).
// One preValidation hook covers the path parameters, the query, the parsed body (JSON, form or
// text) and the header values, for every route, the hosted pages and the 404 handler alike; the
// pages' own error handler turns the refusal into an HTML page.
import { Stream } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import { finishHook } from './callback-hook.ts';

/**
 * A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one
 * (String.prototype.isWellFormed is ES2024, past this project's lib). No `u` flag: code units.
 */
export const UNSTORABLE_SOURCE = '\\u0000|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]';
const UNSTORABLE = new RegExp(UNSTORABLE_SOURCE);

/** True when the string holds no NUL and no unpaired surrogate (it can be stored as it is). */
export function isStorableString(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** Key names short and plain enough to name in an error message (a message never echoes a value). */
const NAMEABLE_KEY = /^[A-Za-z0-9_.[\]-]{1,64}$/;

/**
 * The dotted name of the first unstorable string (or key) in `value`, `''` for the value itself,
 * or undefined when everything is storable. Walks iteratively: a 1 MB body of nested arrays must
 * not overflow the stack.
 */
export function findUnstorableString(value: unknown): string | undefined {
  if (isFlatStringRecord(value)) return findInFlatRecord(value);
  const pending: { value: unknown; name: string }[] = [{ value, name: '' }];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const item = pending.pop()!;
    if (typeof item.value === 'object' && item.value !== null) {
      if (seen.has(item.value)) continue; // parsed input has no cycles; anything else must not loop
      seen.add(item.value);
    }
    if (typeof item.value === 'string') {
      if (!isStorableString(item.value)) return item.name;
    } else if (Array.isArray(item.value)) {
      for (const element of item.value) pending.push({ value: element, name: item.name });
    } else if (isDataObject(item.value)) {
      for (const [key, child] of Object.entries(item.value)) {
        const name = NAMEABLE_KEY.test(key) ? (item.name === '' ? key : `${item.name}.${key}`) : item.name;
        if (!isStorableString(key)) return name;
        pending.push({ value: child, name });
      }
    }
  }
  return undefined;
}

/**
 * Most of what a request carries (path parameters, the query, the headers) is one level of
 * strings: checked in place, without the general walk's bookkeeping.
 */
function isFlatStringRecord(value: unknown): value is Record<string, string> {
  if (!isDataObject(value) || Array.isArray(value)) return false;
  for (const key of Object.keys(value)) if (typeof value[key] !== 'string') return false;
  return true;
}

function findInFlatRecord(record: Record<string, string>): string | undefined {
  for (const key of Object.keys(record)) {
    if (!isStorableString(key) || !isStorableString(record[key]!)) return NAMEABLE_KEY.test(key) ? key : '';
  }
  return undefined;
}

/**
 * Parsed JSON, form fields, query and headers are objects of data (the query's has a prototype of
 * its own); a Buffer or a stream (the proxy's raw body, with its socket and server behind it) is
 * not a string the API takes, and is never walked.
 */
function isDataObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof Stream);
}

type RequestPart = 'params' | 'querystring' | 'body' | 'headers';

function refusal(part: RequestPart, name: string): ApiError {
  const where = name === '' ? part : `${part} ${name}`;
  return new ApiError('validation_failed', `${where} must not contain NUL bytes or unpaired surrogates`);
}

function checkRequestStrings(request: FastifyRequest): void {
  const parts: [RequestPart, unknown][] = [
    ['params', request.params],
    ['querystring', request.query],
    ['headers', request.headers],
    ['body', request.body],
  ];
  for (const [part, value] of parts) {
    const name = findUnstorableString(value);
    if (name !== undefined) throw refusal(part, name);
  }
}

/** Registers the check for every route of `app` (call before any route is registered). */
export function registerStringSafety(app: FastifyInstance): void {
  app.addHook('preValidation', (request, _reply, done) => finishHook(done, () => checkRequestStrings(request)));
}
