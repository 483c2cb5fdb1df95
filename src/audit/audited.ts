// Helpers that turn a request's principal and a use case's outcome into an audit entry, so a route
// records its action in one line and a failure is recorded with the same who/what as a success.
import type { FastifyReply, FastifyRequest, onResponseAsyncHookHandler } from 'fastify';
import type { Principal } from '../auth/authenticate.ts';
import { ApiError } from '../errors.ts';
import type { AuditEntry, AuditLog, AuditResult } from './audit-log.ts';

export function actorOf(principal: Principal | null): string {
  if (principal === null) return 'anonymous';
  return principal.kind === 'admin' ? 'admin' : `client:${principal.clientId}`;
}

export function auditResultOf(err: unknown): AuditResult {
  if (!(err instanceof ApiError)) return 'error';
  if (err.status === 401 || err.status === 403) return 'denied';
  if (err.status === 400) return 'invalid';
  if (err.status === 404) return 'not_found';
  if (err.status === 409) return 'conflict';
  if (err.status === 503) return 'unavailable';
  return 'error';
}

/**
 * Runs `action` and records its outcome: `ok` on success, the error's class on failure (the
 * error's code goes in details; its message and cause do not, they may carry evidence).
 */
export async function audited<T>(
  auditLog: AuditLog,
  entry: Omit<AuditEntry, 'result'>,
  action: () => Promise<T>,
  detailsOf?: (value: T) => Record<string, unknown>,
): Promise<T> {
  let value: T;
  try {
    value = await action();
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 'internal_error';
    auditLog.record({ ...entry, result: auditResultOf(err), details: { ...entry.details, error_code: code } });
    throw err;
  }
  auditLog.record({ ...entry, result: 'ok', details: detailsOf === undefined ? entry.details : { ...entry.details, ...detailsOf(value) } });
  return value;
}

/**
 * onResponse hook for admin route plugins: an authenticated project client that was refused an
 * admin endpoint is recorded as `denied` (requireAdmin leaves its principal on the request).
 * Unauthenticated 401s are not recorded: anyone on the network could fill the table with them.
 */
export function recordDeniedAdminAccess(auditLog: AuditLog): onResponseAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const principal = request.principal;
    if (reply.statusCode !== 403 || principal === null || principal.kind !== 'client') return;
    auditLog.record({
      projectId: principal.projectId,
      actor: actorOf(principal),
      action: 'admin.access',
      result: 'denied',
      details: { method: request.method, route: request.routeOptions.url ?? null },
    });
  };
}
