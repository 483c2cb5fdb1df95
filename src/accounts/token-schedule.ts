// When an account's token counts as fresh, when the background refresher should renew it, and
// how long to back off after a failure. Pure functions of the row, the registry entry and the
// clock: the credential read decides with them whether to ask for a refresh at all.
import type { RegistryApp, RegistryMcpApp, RegistryOAuthApp } from '../registry/registry.ts';

/** The default refresh margin: a token handed out is valid for at least this long. */
export const DEFAULT_REFRESH_MARGIN_SECONDS = 300;

/** How far ahead of next_refresh_at the background refresher picks an account up. */
export const REFRESH_LOOKAHEAD_MS = 60_000;
/** Upper bound of the random spread subtracted from next_refresh_at, so replicas and accounts
 * connected at the same moment do not all hit a provider in the same second. */
const MAX_JITTER_MS = 60_000;
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 15 * 60_000;

export interface TokenTimes {
  expires_at: Date | null;
  last_refreshed_at: Date | null;
  created_at: Date;
}

/** An app whose accounts hold OAuth tokens: an OAuth app, or a remote MCP server (src/mcp/). */
export type TokenApp = RegistryOAuthApp | RegistryMcpApp;

export function marginMs(app: TokenApp | undefined): number {
  const seconds = app === undefined ? undefined : app.auth_type === 'mcp' ? app.mcp.refresh_margin_seconds : app.oauth.refresh_margin_seconds;
  return (seconds ?? DEFAULT_REFRESH_MARGIN_SECONDS) * 1000;
}

/**
 * The margin actually applied to one token: the app's margin, but never more than half the
 * token's own lifetime. A provider issuing 60-second tokens against a 300-second margin would
 * otherwise make every token stale at birth, and every request a refresh.
 */
export function effectiveMarginMs(row: TokenTimes, app: TokenApp | undefined): number {
  const margin = marginMs(app);
  if (row.expires_at === null) return margin;
  const issuedAt = (row.last_refreshed_at ?? row.created_at).getTime();
  const lifetime = row.expires_at.getTime() - issuedAt;
  return lifetime > 0 ? Math.min(margin, Math.floor(lifetime / 2)) : margin;
}

/** Usable as is: unknown expiry (returned as is), or valid for at least the margin. */
export function isFresh(row: TokenTimes, app: TokenApp | undefined, nowMs: number): boolean {
  return row.expires_at === null || row.expires_at.getTime() - nowMs >= effectiveMarginMs(row, app);
}

export function isExpired(row: { expires_at: Date | null }, nowMs: number): boolean {
  return row.expires_at !== null && row.expires_at.getTime() <= nowMs;
}

/**
 * next_refresh_at after a token was issued at `nowMs`: before the margin (with jitter), and
 * for providers whose refresh tokens die when unused, at half their idle lifetime at the latest
 * (a keep-alive). Null when nothing will ever need doing.
 */
export function planNextRefresh(app: RegistryOAuthApp | undefined, expiresAt: Date | null, nowMs: number, random: () => number = Math.random): Date | null {
  const candidates: number[] = [];
  if (expiresAt !== null) {
    const lifetime = expiresAt.getTime() - nowMs;
    const margin = lifetime > 0 ? Math.min(marginMs(app), Math.floor(lifetime / 2)) : 0;
    const jitter = Math.floor(random() * Math.min(MAX_JITTER_MS, Math.max(0, lifetime - margin) / 10));
    candidates.push(expiresAt.getTime() - margin - jitter);
  }
  const idleTtl = app?.oauth.refresh_token_idle_ttl_seconds;
  if (idleTtl !== undefined) candidates.push(nowMs + (idleTtl * 1000) / 2);
  return candidates.length === 0 ? null : new Date(Math.min(...candidates));
}

/** Exponential backoff after the n-th consecutive failure (n ≥ 1), with up to 20 % jitter. */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return Math.floor(base * (1 + random() * 0.2));
}

export function backoffActive(row: { refresh_backoff_until: Date | null }, nowMs: number): boolean {
  return row.refresh_backoff_until !== null && row.refresh_backoff_until.getTime() > nowMs;
}

/** Whether the app's accounts hold refreshable OAuth tokens (OAuth apps and remote MCP servers). */
export function isOAuthApp(app: RegistryApp | undefined): app is TokenApp {
  return app !== undefined && (app.auth_type === 'oauth' || app.auth_type === 'mcp');
}

export function secondsUntil(date: Date | null, nowMs: number, minimum = 1): number {
  return date === null ? minimum : Math.max(minimum, Math.ceil((date.getTime() - nowMs) / 1000));
}
