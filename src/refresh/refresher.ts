// The refresh engine: one refresh per account at a time across every replica.
//
//   1. in-process single-flight: concurrent callers in one replica share one promise;
//   2. a PostgreSQL lease (accounts/account-lease.repository.ts): only its holder calls the
//      provider, with the attempt recorded first; losers poll the row until the holder's result
//      is committed (they return it) or the lease frees, up to a wait limit (then `busy`, the
//      account untouched);
//   3. after taking the lease, the row it returns is the re-read: if a sibling already
//      refreshed, its token is used and the provider is not called;
//   4. the provider's answer is committed in one fenced UPDATE (access token, rotated refresh
//      token, expiry); only sealing (in-memory AES, the data key loaded before the call) happens
//      between the answer and that UPDATE.
//
// Every call ends in a RefreshOutcome (accounts/refresh-outcome.ts), never an HTTP error: the
// routes say it to their callers. Failure classes: invalid_grant (unchanged row) → dead,
// ACCOUNT_DEAD, no more attempts until a reconnect; 5xx / timeout / malformed → unhealthy,
// exponential backoff, `unavailable` (retry); a rejected client (invalid_client) → unhealthy
// with an operator-facing code. The code is stored in error_code, the text beside it in error.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { AppViews } from '../apps/app-view.ts';
import { findAccountById, versionOf, type AccountRow } from '../accounts/account.repository.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import {
  commitRefresh,
  markAccountDead,
  markRefreshFailed,
  releaseRefreshLease,
  takeRefreshLease,
  type Fence,
  type LeasedAccount,
} from '../accounts/account-lease.repository.ts';
import { locationOf, openAccountSecrets, sealCredentials, sealRefreshToken } from '../accounts/account-secrets.ts';
import { ACCOUNT_FAILURE_TEXTS, OPERATOR_FAILURES, type RefreshOutcome } from '../accounts/refresh-outcome.ts';
import { backoffActive, backoffMs, isExpired, isFresh, isOAuthApp, planNextRefresh, secondsUntil } from '../accounts/token-schedule.ts';
import type { AuditEntry } from '../audit/audit-log.ts';
import type { AccountErrorCode, Database } from '../db/types.ts';
import type { Vault } from '../keys/vault.ts';
import { RecentOAuthClients, type ResolvedOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import { storedTarget } from '../mcp/mcp-clients.service.ts';
import { normaliseTokenResponse, type NormalisedTokens } from '../oauth/token-response.ts';
import { readPath } from '../oauth/json-path.ts';
import type { AppRegistry, RegistryApp, RegistryMcpApp, RegistryOAuthApp } from '../registry/registry.ts';
import { fillTemplate } from '../registry/templates.ts';
import { enqueueAccountEvent } from './account-events.ts';
import { isMachineGrant } from '../oauth/machine-grant.ts';
import { remint, type RemintResult } from './remint.ts';
import {
  OAuthClientCache,
  PROVIDER_TIMEOUT_MS,
  TOKEN_RESPONSE_MAX_BYTES,
  requestRefresh,
  type TokenEgress,
  type TokenEndpointOutcome,
} from './token-endpoint.ts';

export interface RefreshTuning {
  /** How long a lease protects a refresh; must exceed the provider call's worst case (2 × timeout). */
  leaseMs: number;
  /** How long a caller waits for another replica's refresh before `busy`. */
  waitLimitMs: number;
  pollIntervalMs: number;
  /** Per phase (connect + headers, then body): a call takes at most twice this. */
  providerTimeoutMs: number;
  maxResponseBytes: number;
}

export const DEFAULT_REFRESH_TUNING: RefreshTuning = {
  leaseMs: 30_000,
  waitLimitMs: 15_000,
  pollIntervalMs: 75,
  providerTimeoutMs: PROVIDER_TIMEOUT_MS,
  maxResponseBytes: TOKEN_RESPONSE_MAX_BYTES,
};

/**
 * request: the token is stale by the margin; force: refresh whatever the margin; due: the
 * background refresher's claim; rejected: the API refused the token (a proxied 401), so refresh
 * whatever the margin unless a sibling has replaced that token meanwhile.
 */
export type RefreshTrigger = 'request' | 'force' | 'due' | 'rejected';

export interface LogSink {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AuditSink {
  record(entry: AuditEntry): void;
}

export interface RefresherDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly registry: AppRegistry;
  /** The app object of the ACCOUNT_* webhooks. */
  readonly appViews: AppViews;
  /** The only way to the token endpoints. */
  readonly egress: TokenEgress;
  readonly logger?: LogSink | undefined;
  readonly audit?: AuditSink | undefined;
  readonly tuning?: Partial<RefreshTuning> | undefined;
  readonly now?: (() => Date) | undefined;
}

/** What a refresh runs with; an MCP account's client comes with its app's view. */
type RefreshTarget =
  { kind: 'oauth'; app: RegistryOAuthApp; client?: ResolvedOAuthClient } | { kind: 'client_missing'; app: RegistryMcpApp } | { kind: 'none' };

const noopLogger: LogSink = { info: () => {}, warn: () => {}, error: () => {} };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const failure = (code: AccountErrorCode, reason?: string) => ({
  code,
  text: reason === undefined ? ACCOUNT_FAILURE_TEXTS[code] : `${ACCOUNT_FAILURE_TEXTS[code]} (${reason})`,
});

export class CredentialRefresher {
  /** This replica's identity in refresh_lease_owner (host, pid and a per-start nonce). */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly tuning: Readonly<RefreshTuning>;
  private readonly inflight = new Map<string, Promise<RefreshOutcome>>();
  private readonly logger: LogSink;
  private readonly now: () => Date;
  /** The OAuth apps' opened clients and their built simple-oauth2 clients, reused while unchanged. */
  private readonly oauthClients: RecentOAuthClients;
  private readonly builtClients: OAuthClientCache;

  constructor(private readonly deps: RefresherDeps) {
    this.tuning = Object.freeze({ ...DEFAULT_REFRESH_TUNING, ...deps.tuning });
    this.oauthClients = new RecentOAuthClients(deps.db, deps.vault);
    this.builtClients = new OAuthClientCache();
    this.logger = deps.logger ?? noopLogger;
    this.now = deps.now ?? (() => new Date());
  }

  /** Refreshes `row` unless it is fresh by the margin. */
  ensureFresh(row: AccountRow): Promise<RefreshOutcome> {
    return this.singleFlight(row, 'request');
  }

  /** Admin: refresh now, whatever the margin (same single-flight and lease path). */
  forceRefresh(row: AccountRow): Promise<RefreshOutcome> {
    if (!isOAuthApp(this.deps.registry.get(row.app_slug))) return Promise.resolve({ kind: 'unrefreshable', reason: 'not_oauth' });
    return this.singleFlight(row, 'force');
  }

  /**
   * The API answered 401 to `row`'s token: refresh once through the same single-flight and lease,
   * ignoring the margin. A backoff still holds (a provider that is down is not asked again), and
   * a token a sibling already replaced is returned as it is.
   */
  refreshRejected(row: AccountRow): Promise<RefreshOutcome> {
    if (!isOAuthApp(this.deps.registry.get(row.app_slug))) return Promise.resolve({ kind: 'unrefreshable', reason: 'not_oauth' });
    return this.singleFlight(row, 'rejected');
  }

  /** The background refresher hands over an account it claimed (lease already taken). */
  refreshClaimed(leased: LeasedAccount): Promise<RefreshOutcome> {
    const flight = this.refreshUnderLease(leased, leased, 'due');
    if (!this.inflight.has(leased.id)) {
      this.inflight.set(leased.id, flight);
      void flight.then(
        () => this.inflight.delete(leased.id),
        () => this.inflight.delete(leased.id),
      );
    }
    return flight;
  }

  private nowMs(): number {
    return this.now().getTime();
  }

  private singleFlight(base: AccountRow, trigger: RefreshTrigger): Promise<RefreshOutcome> {
    const existing = this.inflight.get(base.id);
    if (existing !== undefined) return existing;
    const flight = this.acquireAndRefresh(base, trigger).finally(() => {
      if (this.inflight.get(base.id) === flight) this.inflight.delete(base.id);
    });
    this.inflight.set(base.id, flight);
    return flight;
  }

  private async acquireAndRefresh(base: AccountRow, trigger: RefreshTrigger): Promise<RefreshOutcome> {
    const deadline = this.nowMs() + this.tuning.waitLimitMs;
    for (;;) {
      const leased = await takeRefreshLease(this.deps.db, base.id, this.owner, `${this.owner}:${randomUUID()}`, this.tuning.leaseMs);
      if (leased !== undefined) return this.refreshUnderLease(base, leased, trigger);

      // Another replica (or this one's background job) holds the lease: wait for its outcome.
      const current = await findAccountById(this.deps.db, base.id);
      if (current === undefined) return { kind: 'gone' };
      if (versionOf(current) !== versionOf(base)) return { kind: 'fresh', row: current };
      if (current.dead) return { kind: 'dead', code: current.error_code ?? 'grant_revoked' };
      if (trigger !== 'force' && backoffActive(current, this.nowMs())) return this.duringBackoff(current);
      const leaseFree = current.refresh_lease_until === null || current.refresh_lease_until.getTime() < this.nowMs();
      if (leaseFree) continue;
      if (this.nowMs() >= deadline) {
        return { kind: 'busy', reason: 'lease_held', retryAfterSeconds: Math.min(5, secondsUntil(current.refresh_lease_until, this.nowMs())) };
      }
      await sleep(this.tuning.pollIntervalMs);
    }
  }

  /** Inside the backoff nothing is tried: the last failure's class, by its stored code. */
  private duringBackoff(row: AccountRow): RefreshOutcome {
    const code = row.error_code !== null && OPERATOR_FAILURES.has(row.error_code) ? row.error_code : 'provider_unavailable';
    return { kind: 'unavailable', code, retryAfterSeconds: secondsUntil(row.refresh_backoff_until, this.nowMs()) };
  }

  /** Runs with the lease held; every path ends by committing, marking or releasing it. */
  private async refreshUnderLease(base: AccountRow, leased: LeasedAccount, trigger: RefreshTrigger): Promise<RefreshOutcome> {
    const fence: Fence = { id: leased.id, owner: this.owner, attemptId: leased.refresh_attempt_id! };
    const restore = { attemptId: leased.previous_attempt_id, attemptStartedAt: leased.previous_attempt_started_at };
    let settled = false;
    const release = async (changes: { nextRefreshAt?: Date | null } = {}): Promise<void> => {
      settled = true;
      await releaseRefreshLease(this.deps.db, fence, restore, changes);
    };
    try {
      const nowMs = this.nowMs();
      const target = await this.targetOf(leased);
      if (target.kind === 'none') {
        // Nothing to refresh (an app removed from the registry, or a keys app): stop scheduling it.
        await release({ nextRefreshAt: null });
        return { kind: 'fresh', row: leased };
      }
      // The re-read: a sibling replica may have refreshed between our read and the lease.
      if (trigger === 'request' && (versionOf(leased) !== versionOf(base) || isFresh(leased, target.app, nowMs))) {
        await release();
        return { kind: 'fresh', row: leased };
      }
      if (trigger === 'rejected' && versionOf(leased) !== versionOf(base)) {
        await release();
        return { kind: 'fresh', row: leased };
      }
      if (leased.dead) {
        await release();
        return { kind: 'dead', code: leased.error_code ?? 'grant_revoked' };
      }
      if (trigger !== 'force' && backoffActive(leased, nowMs)) {
        await release();
        return this.duringBackoff(leased);
      }
      if (target.kind === 'client_missing') {
        // An MCP account whose client registration (or preregistered OAuth app) is gone.
        settled = true;
        const retryAfterSeconds = await this.markFailed(leased, target.app, fence, failure('oauth_app_missing'), false);
        return { kind: 'unavailable', code: 'oauth_app_missing', retryAfterSeconds };
      }
      const { app } = target;

      const opened = await openAccountSecrets(this.deps.vault, leased);
      if (isMachineGrant(app.oauth)) {
        // No refresh token in these grants: the sealed client or key mints a new token (remint.ts).
        const minted = await remint({ ...this.deps, oauthClients: this.oauthClients, tuning: this.tuning, now: this.now() }, leased, app, opened.values);
        settled = true;
        return await this.settleMint(leased, app, fence, opened.values, minted, trigger);
      }
      if (opened.refreshToken === null) return await this.withoutRefreshToken(leased, app, trigger, fence, release);

      const client = target.client ?? (await this.oauthClients.resolve(leased.project_id, leased.app_slug, leased.oauth_app_id));
      if (client === undefined || (leased.oauth_app_id !== null && client.id !== leased.oauth_app_id)) {
        settled = true;
        const retryAfterSeconds = await this.markFailed(leased, app, fence, failure('oauth_app_missing'), false);
        return { kind: 'unavailable', code: 'oauth_app_missing', retryAfterSeconds };
      }
      const url = new URL(fillTemplate(app.oauth.refresh_url, currentCredentialValues(app, opened.values), 'url'));
      // Load the project's data key now, so sealing the answer below needs no query.
      await this.deps.vault.loadProjectKey(leased.project_id);

      const answer = await requestRefresh(
        {
          oauth: app.oauth,
          url,
          client,
          refreshToken: opened.refreshToken,
          timeoutMs: this.tuning.providerTimeoutMs,
          maxBytes: this.tuning.maxResponseBytes,
          egress: this.deps.egress,
        },
        this.builtClients,
      );
      settled = true;
      return await this.settle(leased, app, fence, opened.values, answer, trigger);
    } finally {
      if (!settled) {
        // An unexpected error (database, decryption): give the lease back, keep the attempt record.
        await releaseRefreshLease(this.deps.db, fence, restore).catch(() => {});
      }
    }
  }

  /**
   * The account's app as the OAuth steps see it: the registry's OAuth app, or a remote MCP
   * server's view with the client it was connected with (its token endpoint and `resource`).
   */
  private async targetOf(row: AccountRow): Promise<RefreshTarget> {
    const app = this.deps.registry.get(row.app_slug);
    if (app?.auth_type === 'oauth') return { kind: 'oauth', app };
    if (app?.auth_type !== 'mcp') return { kind: 'none' };
    const stored = await storedTarget(this.deps, { projectId: row.project_id, environment: row.environment }, app, row.oauth_app_id);
    return stored === undefined ? { kind: 'client_missing', app } : { kind: 'oauth', app: stored.app, client: stored.client };
  }

  private async withoutRefreshToken(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    trigger: RefreshTrigger,
    fence: Fence,
    release: (changes?: { nextRefreshAt?: Date | null }) => Promise<void>,
  ): Promise<RefreshOutcome> {
    if (isExpired(leased, this.nowMs())) {
      await this.markDead(leased, app, fence, failure('expired_without_refresh_token'));
      return { kind: 'dead', code: 'expired_without_refresh_token' };
    }
    // Still valid (or of unknown expiry): usable until it expires; the refresher looks again then.
    await release({ nextRefreshAt: leased.expires_at });
    if (trigger === 'force') return { kind: 'unrefreshable', reason: 'no_refresh_token' };
    return { kind: 'fresh', row: leased };
  }

  private async settle(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    values: Readonly<Record<string, string>>,
    answer: TokenEndpointOutcome,
    trigger: RefreshTrigger,
  ): Promise<RefreshOutcome> {
    const interrupted = leased.previous_attempt_id !== null;
    if (answer.kind === 'issued') {
      const refused = errorInBody(answer.body, app);
      if (refused === 'grant_invalid') return this.grantInvalid(leased, app, fence, interrupted, trigger);
      if (refused === 'client_rejected') return this.clientRejected(leased, app, fence, trigger);
      const parsed = normaliseTokenResponse(app.oauth, answer.body, leased.authorized_scopes, this.now());
      if (!parsed.ok) return this.unavailable(leased, app, fence, { reason: 'answered with a malformed token response', uncertain: false }, trigger);
      return this.commit(leased, app, fence, values, parsed.tokens, trigger);
    }
    if (answer.kind === 'grant_invalid') return this.grantInvalid(leased, app, fence, interrupted, trigger);
    if (answer.kind === 'client_rejected') return this.clientRejected(leased, app, fence, trigger, answer.code);
    return this.unavailable(leased, app, fence, answer, trigger);
  }

  /** A machine grant's answer, settled like a refresh's: a refusal condemns the entered client or key, no answer backs off. */
  private async settleMint(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    values: Readonly<Record<string, string>>,
    minted: RemintResult,
    trigger: RefreshTrigger,
  ): Promise<RefreshOutcome> {
    if (minted.kind === 'oauth_app_missing') {
      const retryAfterSeconds = await this.markFailed(leased, app, fence, failure('oauth_app_missing'), false);
      return { kind: 'unavailable', code: 'oauth_app_missing', retryAfterSeconds };
    }
    if (minted.kind === 'refused') return this.grantInvalid(leased, app, fence, false, trigger, 'credentials_rejected');
    if (minted.kind === 'unavailable') return this.unavailable(leased, app, fence, { ...minted, uncertain: false }, trigger);
    const parsed = normaliseTokenResponse(app.oauth, minted.body, leased.authorized_scopes, this.now());
    if (!parsed.ok) return this.unavailable(leased, app, fence, { reason: 'answered with a malformed token response', uncertain: false }, trigger);
    // These grants issue no refresh token (RFC 6749 §4.4.3); one sent anyway is not kept.
    return this.commit(leased, app, fence, values, { ...parsed.tokens, refreshToken: null }, trigger);
  }

  private async commit(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    values: Readonly<Record<string, string>>,
    tokens: NormalisedTokens,
    trigger: RefreshTrigger,
  ): Promise<RefreshOutcome> {
    const credentials = { ...values, ...tokens.extras, oauth_access_token: tokens.accessToken };
    const committed = await commitRefresh(this.deps.db, fence, {
      credentialsEnc: await sealCredentials(this.deps.vault, locationOf(leased), credentials),
      // No refresh_token in the answer: the stored one stays valid (RFC 6749 §6).
      refreshTokenEnc: tokens.refreshToken === null ? undefined : await sealRefreshToken(this.deps.vault, locationOf(leased), tokens.refreshToken),
      authorizedScopes: tokens.authorizedScopes,
      expiresAt: tokens.expiresAt,
      nextRefreshAt: planNextRefresh(app, tokens.expiresAt, this.nowMs()),
    });
    if (committed === undefined) {
      // The fence failed: our lease expired and another holder took over, or a reconnect
      // replaced the credentials meanwhile. Their state wins; ours is dropped.
      this.logger.error({ accountId: leased.id, trigger }, 'refresh result not stored: the lease was lost before the commit');
      this.audit(leased, trigger, 'error', 'lease_lost');
      return { kind: 'busy', reason: 'lease_lost', retryAfterSeconds: 1 };
    }
    this.audit(leased, trigger, 'ok', 'refreshed');
    if (!leased.healthy) {
      await enqueueAccountEvent(this.deps.db, 'ACCOUNT_RECOVERED', committed, this.deps.appViews.of(app, committed.app_slug)).catch((err: unknown) =>
        this.logger.error({ err, accountId: leased.id }, 'could not enqueue ACCOUNT_RECOVERED'),
      );
    }
    return { kind: 'refreshed', row: committed };
  }

  private async grantInvalid(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    interrupted: boolean,
    trigger: RefreshTrigger,
    refusedCode?: AccountErrorCode,
  ): Promise<RefreshOutcome> {
    // Re-read before condemning the account: a reconnect (or a sibling) may have replaced the
    // refresh token while we used the old one.
    const current = await findAccountById(this.deps.db, leased.id);
    if (current === undefined) return { kind: 'gone' };
    if (versionOf(current) !== versionOf(leased)) {
      await releaseRefreshLease(this.deps.db, fence, { attemptId: null, attemptStartedAt: null });
      this.audit(leased, trigger, 'ok', 'superseded');
      return { kind: 'fresh', row: current };
    }
    const code = refusedCode ?? (interrupted ? 'grant_lost_in_interrupted_refresh' : 'grant_revoked');
    await this.markDead(leased, app, fence, failure(code));
    this.audit(leased, trigger, 'conflict', interrupted ? 'grant_invalid_after_interruption' : 'grant_invalid');
    return { kind: 'dead', code };
  }

  private async markDead(leased: LeasedAccount, app: RegistryOAuthApp, fence: Fence, reason: { code: AccountErrorCode; text: string }): Promise<void> {
    // The state change and its webhook are recorded together, or not at all.
    const dead = await this.deps.db.transaction().execute(async (trx) => {
      const row = await markAccountDead(trx, fence, reason);
      if (row !== undefined) await enqueueAccountEvent(trx, 'ACCOUNT_DEAD', row, this.deps.appViews.of(app, row.app_slug));
      return row;
    });
    if (dead !== undefined)
      this.logger.warn({ accountId: leased.id, projectId: leased.project_id, app: app.slug }, 'account marked dead: it must be reconnected');
  }

  private async clientRejected(leased: LeasedAccount, app: RegistryOAuthApp, fence: Fence, trigger: RefreshTrigger, code?: string): Promise<RefreshOutcome> {
    this.logger.error({ accountId: leased.id, app: app.slug, oauthError: code }, 'the provider rejected the oauth client during a refresh');
    const retryAfterSeconds = await this.markFailed(leased, app, fence, failure('client_rejected'), false);
    this.audit(leased, trigger, 'error', 'client_rejected');
    return { kind: 'unavailable', code: 'client_rejected', retryAfterSeconds };
  }

  private async unavailable(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    answer: { reason: string; uncertain: boolean; retryAfterSeconds?: number | undefined },
    trigger: RefreshTrigger,
  ): Promise<RefreshOutcome> {
    this.logger.warn({ accountId: leased.id, app: app.slug, reason: answer.reason, uncertain: answer.uncertain }, 'token refresh failed; backing off');
    const retryAfterSeconds = await this.markFailed(
      leased,
      app,
      fence,
      failure('provider_unavailable', answer.reason),
      answer.uncertain,
      answer.retryAfterSeconds,
    );
    this.audit(leased, trigger, 'unavailable', answer.reason);
    return { kind: 'unavailable', code: 'provider_unavailable', retryAfterSeconds };
  }

  /** Records the failure and its backoff; returns the seconds until the next attempt. */
  private async markFailed(
    leased: LeasedAccount,
    app: RegistryApp,
    fence: Fence,
    reason: { code: AccountErrorCode; text: string },
    keepAttempt: boolean,
    retryAfterSeconds?: number,
  ): Promise<number> {
    const failures = leased.refresh_failures + 1;
    const backoffUntil = new Date(this.nowMs() + Math.max(backoffMs(failures), (retryAfterSeconds ?? 0) * 1000));
    await this.deps.db.transaction().execute(async (trx) => {
      const row = await markRefreshFailed(trx, fence, { ...reason, failures, backoffUntil, keepAttempt });
      // Told once per episode: on the transition from healthy.
      if (row !== undefined && leased.healthy) await enqueueAccountEvent(trx, 'ACCOUNT_UNHEALTHY', row, this.deps.appViews.of(app, row.app_slug));
    });
    return secondsUntil(backoffUntil, this.nowMs());
  }

  private audit(row: AccountRow, trigger: RefreshTrigger, result: AuditEntry['result'], outcome: string): void {
    this.deps.audit?.record({
      projectId: row.project_id,
      environment: row.environment,
      actor: 'system:refresher',
      action: 'account.token_refresh',
      accountId: row.id,
      result,
      details: { trigger, outcome },
    });
  }
}

/**
 * A 200 that carries an error (Slack's `{ok:false, error}`, or an RFC 6749 `error` member):
 * classified like the same error on a 400.
 */
function errorInBody(body: Record<string, unknown>, app: RegistryOAuthApp): 'grant_invalid' | 'client_rejected' | undefined {
  const error = readPath(body, app.oauth.token_response.error_path ?? 'error');
  if (typeof error !== 'string' || error === '') return undefined;
  if (['invalid_grant', 'invalid_refresh_token', 'token_revoked', 'token_expired', 'refresh_token_expired'].includes(error)) return 'grant_invalid';
  if (['invalid_client', 'unauthorized_client', 'invalid_client_id', 'bad_client_secret'].includes(error)) return 'client_rejected';
  return undefined;
}
