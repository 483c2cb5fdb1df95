// A provider's token endpoint for the refresher scenario, a process of its own: answers
// refresh_token grants after DELAY_MS (a real provider's ~20 ms), rotates the refresh token on
// every use and refuses a rotated-away one with invalid_grant, as Google, Salesforce or Xero do.
// It counts refreshes per account, so a double refresh or a miss is visible, and per replica
// (each replica's registry names /r<k>/token).
//
// env: PORT, DELAY_MS, EXPIRES_IN (seconds, the issued tokens' lifetime), PLAN (ExpiryPlan JSON:
// when each seeded token expires, for the expired-unrenewed count).
// GET /stats → FakeProviderStats. GET /healthz.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BENCH_CLIENT_ID, benchAccessToken, benchRefreshToken, parseBenchRefreshToken, plannedExpiry, type ExpiryPlan } from './lib/bench-accounts.ts';

export interface FakeProviderStats {
  requests: number;
  /** Refresh grants answered with new tokens. */
  refreshed: number;
  /** Uses of a refresh token that was already rotated away: a second refresh of one generation. */
  staleTokenUses: number;
  /** Requests that were not a valid refresh grant of a seeded account (wrong client, bad token). */
  rejected: number;
  byReplica: Record<string, number>;
  /** Accounts refreshed 0, 1 and more than once. */
  accountsByRefreshCount: { never: number; once: number; more: number };
  /** Seeded tokens past their expiry with no refresh (so far). */
  expiredUnrenewed: number;
  /** Accounts first refreshed after their token had expired. */
  renewedAfterExpiry: number;
  /** Seconds between the first refresh and its token's expiry: smallest and median. */
  slackSeconds: { min: number | null; median: number | null };
  /** When the first and the last refresh were answered (epoch ms; null before any). */
  firstRefreshAtMs: number | null;
  lastRefreshAtMs: number | null;
}

const delayMs = Number(process.env['DELAY_MS'] ?? 20);
const expiresIn = Number(process.env['EXPIRES_IN'] ?? 3600);
const plan = JSON.parse(process.env['PLAN'] ?? '{}') as ExpiryPlan;
const generation = new Int32Array(plan.count);
const refreshCount = new Int32Array(plan.count);
const firstRefreshAt = new Float64Array(plan.count);
const stats = { requests: 0, refreshed: 0, staleTokenUses: 0, rejected: 0, byReplica: {} as Record<string, number> };
let firstRefreshAtMs: number | null = null;
let lastRefreshAtMs: number | null = null;

function send(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  response.end(text);
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return new URLSearchParams(text);
}

async function token(request: IncomingMessage, response: ServerResponse, replica: string): Promise<void> {
  stats.requests += 1;
  const form = await readForm(request);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const parsed = parseBenchRefreshToken(form.get('refresh_token') ?? '');
  if (form.get('grant_type') !== 'refresh_token' || form.get('client_id') !== BENCH_CLIENT_ID || parsed === undefined || parsed.index >= plan.count) {
    stats.rejected += 1;
    return send(response, 400, { error: 'invalid_request' });
  }
  const { index } = parsed;
  if (parsed.generation !== generation[index]) {
    stats.staleTokenUses += 1;
    return send(response, 400, { error: 'invalid_grant', error_description: 'refresh token already used' });
  }
  const next = parsed.generation + 1;
  generation[index] = next;
  refreshCount[index] = refreshCount[index]! + 1;
  const now = Date.now();
  if (firstRefreshAt[index] === 0) firstRefreshAt[index] = now;
  firstRefreshAtMs ??= now;
  lastRefreshAtMs = now;
  stats.refreshed += 1;
  stats.byReplica[replica] = (stats.byReplica[replica] ?? 0) + 1;
  send(response, 200, {
    access_token: benchAccessToken(index, next),
    refresh_token: benchRefreshToken(index, next),
    token_type: 'Bearer',
    expires_in: expiresIn,
    scope: 'read',
  });
}

function summary(): FakeProviderStats {
  const now = Date.now();
  const byCount = { never: 0, once: 0, more: 0 };
  let expiredUnrenewed = 0;
  let renewedAfterExpiry = 0;
  const slack: number[] = [];
  for (let index = 0; index < plan.count; index++) {
    const count = refreshCount[index]!;
    if (count === 0) byCount.never += 1;
    else if (count === 1) byCount.once += 1;
    else byCount.more += 1;
    const expiry = plannedExpiry(plan, index);
    if (count === 0 && expiry <= now) expiredUnrenewed += 1;
    if (count > 0) {
      if (firstRefreshAt[index]! > expiry) renewedAfterExpiry += 1;
      slack.push((expiry - firstRefreshAt[index]!) / 1000);
    }
  }
  slack.sort((a, b) => a - b);
  return {
    ...stats,
    accountsByRefreshCount: byCount,
    expiredUnrenewed,
    renewedAfterExpiry,
    slackSeconds: { min: slack[0] ?? null, median: slack.length === 0 ? null : slack[slack.length >> 1]! },
    firstRefreshAtMs,
    lastRefreshAtMs,
  };
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://fake');
  const replica = /^\/(r\d+)\/token$/.exec(url.pathname)?.[1];
  if (request.method === 'POST' && replica !== undefined) {
    token(request, response, replica).catch(() => send(response, 500, { error: 'server_error' }));
    return;
  }
  if (request.method === 'GET' && url.pathname === '/stats') return send(response, 200, summary());
  if (request.method === 'GET' && url.pathname === '/healthz') return send(response, 200, { ok: true });
  send(response, 404, { error: 'not_found' });
});
server.listen(Number(process.env['PORT']), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
