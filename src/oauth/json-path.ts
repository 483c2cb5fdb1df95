// Reads the registry's dot paths (`authed_user.access_token`) out of provider JSON.

export function readPath(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.prototype.hasOwnProperty.call(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A scalar as a credential string; objects and arrays are not credentials. */
export function readString(document: unknown, path: string): string | undefined {
  const value = readPath(document, path);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
