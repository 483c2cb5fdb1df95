// What a benchmark account looks like, shared by the seeder, the fake token endpoint and the
// scenarios (and free of latchkey's own code, so the fake provider never loads it).
//
// Account n of a project has an id derived from (project, n): random-looking like a minted id,
// so the primary-key index grows as it does with real inserts (random, not append-only), yet
// every scenario can name any account without reading them back. Its refresh token says which
// account and which generation it is, so the fake provider can count refreshes per account and
// refuse a rotated-away token exactly like a provider that rotates refresh tokens.
import { createHash } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** As latchkey's mintId: prefix + 16 base62 characters. */
const ID_LENGTH = 16;

function derivedId(prefix: string, projectId: string, kind: string, index: number): string {
  const digest = createHash('sha256').update(`${projectId}:${kind}:${index}`).digest();
  let id = prefix;
  for (let i = 0; id.length < prefix.length + ID_LENGTH; i++) id += BASE62[digest[i]! % 62];
  return id;
}

export const benchAccountId = (projectId: string, index: number): string => derivedId('apn_', projectId, 'account', index);
export const benchUserId = (projectId: string, index: number): string => derivedId('exu_', projectId, 'user', index);
export const benchExternalId = (index: number): string => `bench-user-${index}`;

const REFRESH_TOKEN = /^bench-rt\.(\d+)\.(\d+)\.[A-Za-z0-9_-]+$/;

/** Deterministic filler, so a scenario can check a served token byte for byte. */
function filler(kind: string, index: number, generation: number, bytes: number): string {
  let out = '';
  for (let block = 0; out.length * 0.75 < bytes; block++) out += createHash('sha256').update(`${kind}:${index}:${generation}:${block}`).digest('base64url');
  return out.slice(0, Math.ceil((bytes * 4) / 3));
}

/** A refresh token of the size a real provider issues (Google's are ~100 characters). */
export function benchRefreshToken(index: number, generation: number): string {
  return `bench-rt.${index}.${generation}.${filler('rt', index, generation, 64)}`;
}

export function parseBenchRefreshToken(token: string): { index: number; generation: number } | undefined {
  const match = REFRESH_TOKEN.exec(token);
  return match === null ? undefined : { index: Number(match[1]), generation: Number(match[2]) };
}

/** An access token of a real provider's size (a Google ya29 token is ~170 characters). */
export function benchAccessToken(index: number, generation: number): string {
  return `ya29.bench-${index}-${generation}.${filler('at', index, generation, 120)}`;
}

/** What latchkey keeps sealed with an OAuth token (see the account object), as first connected. */
export function benchCredentials(index: number, generation = 0): Record<string, string> {
  return {
    oauth_access_token: benchAccessToken(index, generation),
    oauth_client_id: BENCH_CLIENT_ID,
    oauth_uid: `bench-user-${index}@example.com`,
  };
}

export const BENCH_APP_SLUG = 'benchauth';
export const BENCH_CLIENT_ID = 'bench-oauth-client';
/** Lifetime of the tokens the fake provider issues and of the seeded ones (as Google's). */
export const TOKEN_LIFETIME_SECONDS = 3600;

/**
 * Expiries spread evenly: account n of count expires at startMs + leadMs + spanMs·n/count. The
 * refresher scenario and the fake provider (which reports expired-unrenewed accounts) share it.
 */
export interface ExpiryPlan {
  startMs: number;
  leadMs: number;
  spanMs: number;
  count: number;
}

export function plannedExpiry(plan: ExpiryPlan, index: number): number {
  return plan.startMs + plan.leadMs + (plan.spanMs * index) / plan.count;
}
