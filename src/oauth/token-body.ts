// simple-oauth2 spreads the token endpoint's response into its token object. A body that is not
// JSON arrives as a Buffer, so the spread holds its bytes under numeric keys: put them back
// together and parse them. Shared by the code exchange and the refresh.

/**
 * @param addedKeys keys simple-oauth2 adds itself (expires_at; on a refresh, the refresh_token
 *   it was given), which are not part of a byte-spread body.
 */
export function decodeTokenBody(token: Record<string, unknown>, addedKeys: readonly string[] = ['expires_at']): Record<string, unknown> {
  const keys = Object.keys(token).filter((key) => !addedKeys.includes(key));
  if (keys.length === 0 || !keys.every((key) => /^\d+$/.test(key))) return token;
  const text = Buffer.from(keys.map((key) => Number(token[key]))).toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Not JSON: maybe application/x-www-form-urlencoded (GitHub without an Accept header).
  }
  // An HTML error page holds no token; parsing it as a form would only invent keys.
  if (/^\s*</.test(text)) return {};
  return Object.fromEntries(new URLSearchParams(text));
}
