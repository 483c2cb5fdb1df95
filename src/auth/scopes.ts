// API client scopes: Pipedream's names where they exist, plus latchkey's own
// connect:credentials:read, required to see secrets (a backend that only lists accounts never does),
// and connect:proxy, for requests made through the proxy with an account's credentials.
export const KNOWN_SCOPES = [
  '*',
  'connect:*',
  'connect:tokens:write',
  'connect:accounts:read',
  'connect:accounts:write',
  'connect:credentials:read',
  'connect:proxy',
  'connect:project:read',
  'connect:project:write',
  // Project secrets: reading a value is its own scope, as reading credentials is.
  'connect:secrets:read',
  'connect:secrets:write',
] as const;

export type Scope = (typeof KNOWN_SCOPES)[number];

export const DEFAULT_SCOPES: readonly Scope[] = ['*'];

export function parseScopeList(raw: string): string[] {
  return raw.split(' ').filter((scope) => scope !== '');
}

export function isKnownScope(scope: string): scope is Scope {
  return (KNOWN_SCOPES as readonly string[]).includes(scope);
}

/** `*` grants everything; `a:*` grants every scope under `a:`. */
export function scopeGrants(granted: readonly string[], required: string): boolean {
  return granted.some((scope) => scope === '*' || scope === required || (scope.endsWith(':*') && required.startsWith(scope.slice(0, -1))));
}

/** Every requested scope must be granted by the client's own scopes. */
export function scopesWithin(requested: readonly string[], allowed: readonly string[]): boolean {
  return requested.every(
    (scope) =>
      scopeGrants(allowed, scope) || (scope.endsWith(':*') && allowed.some((a) => a === '*' || (a.endsWith(':*') && scope.startsWith(a.slice(0, -1))))),
  );
}
