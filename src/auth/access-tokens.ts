// API access tokens: minted at /v1/oauth/token, stored as SHA-256 digests, checked on every
// API request. The check runs no argon2 and writes nothing; it reads the grant at most once
// per CACHE_TTL_MS per token per process, which bounds how long a revoked client's token
// keeps working on any replica. Requests that find the entry stale while its read is under way
// wait for that read instead of each starting one (under load, a read takes as long as a request
// waits for a connection, and every request of that window would otherwise read the grant).
import type { Kysely } from 'kysely';
import { TOKEN_PREFIXES, digestToken, hasValidTokenShape, mintToken } from '../crypto/tokens.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { findLiveGrantByDigest, insertAccessToken } from './access-token.repository.ts';
import { parseScopeList } from './scopes.ts';

export const ACCESS_TOKEN_TTL_SECONDS = 3600;
export const CACHE_TTL_MS = 500;
const CACHE_MAX_ENTRIES = 10_000;

export interface ClientPrincipal {
  readonly kind: 'client';
  readonly clientId: string;
  readonly projectId: string;
  readonly scopes: readonly string[];
  /** Set when the client may act in this environment only. */
  readonly environment: EnvironmentName | null;
}

export async function issueAccessToken(
  db: Kysely<Database>,
  grant: { clientId: string; projectId: string; scopes: readonly string[] },
  now = new Date(),
): Promise<{ token: string; expiresIn: number }> {
  const token = mintToken(TOKEN_PREFIXES.apiAccessToken);
  await insertAccessToken(db, {
    digest: digestToken(token),
    client_id: grant.clientId,
    project_id: grant.projectId,
    scopes: grant.scopes.join(' '),
    expires_at: new Date(now.getTime() + ACCESS_TOKEN_TTL_SECONDS * 1000),
  });
  return { token, expiresIn: ACCESS_TOKEN_TTL_SECONDS };
}

interface CacheEntry {
  principal: ClientPrincipal | null;
  expiresAtMs: number;
  checkedAtMs: number;
}

export class AccessTokenVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly reading = new Map<string, Promise<ClientPrincipal | null>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The answer when the cache holds it (a principal, or null for a refused token), undefined when
   * only `verify` can tell: lets a hook answer most requests without a promise.
   */
  cachedAnswer(token: string): ClientPrincipal | null | undefined {
    return this.answerFromCache(token, this.now());
  }

  async verify(token: string): Promise<ClientPrincipal | null> {
    const nowMs = this.now();
    const cached = this.answerFromCache(token, nowMs);
    if (cached !== undefined) return cached;
    if (!hasValidTokenShape(token, TOKEN_PREFIXES.apiAccessToken)) return null;
    const pending = this.reading.get(token);
    if (pending !== undefined) return pending;
    const read = this.read(token, nowMs).finally(() => this.reading.delete(token));
    this.reading.set(token, read);
    return read;
  }

  private answerFromCache(token: string, nowMs: number): ClientPrincipal | null | undefined {
    // Only well-formed tokens are ever cached, so a hit needs no shape check (its CRC is the
    // most expensive step of a cached verification).
    const cached = this.cache.get(token);
    if (cached === undefined || nowMs - cached.checkedAtMs >= CACHE_TTL_MS) return undefined;
    return cached.principal !== null && cached.expiresAtMs > nowMs ? cached.principal : null;
  }

  private async read(token: string, nowMs: number): Promise<ClientPrincipal | null> {
    const grant = await findLiveGrantByDigest(this.db, digestToken(token));
    const principal: ClientPrincipal | null =
      grant === undefined
        ? null
        : Object.freeze({
            kind: 'client',
            clientId: grant.client_id,
            projectId: grant.project_id,
            scopes: parseScopeList(grant.scopes),
            environment: grant.environment,
          });
    this.remember(token, { principal, expiresAtMs: grant?.expires_at.getTime() ?? 0, checkedAtMs: nowMs });
    return principal;
  }

  private remember(token: string, entry: CacheEntry): void {
    if (this.cache.size >= CACHE_MAX_ENTRIES) {
      const oldest = this.cache.keys().next();
      if (oldest.done !== true) this.cache.delete(oldest.value);
    }
    this.cache.delete(token);
    this.cache.set(token, entry);
  }
}
