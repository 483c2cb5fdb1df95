// The refresh engine: one refresh per account at a time across every replica.
//
//   1. in-process single-flight: concurrent callers in one replica share one promise;
//   2. a PostgreSQL lease (refresh.repository.ts): only its holder calls the provider, with the
//      attempt recorded first; losers poll the row until the holder's result is committed (they
//      return it) or the lease frees, up to a wait limit (then 503, the account untouched);
//   3. after taking the lease, the row it returns is the re-read: if a sibling already
//      refreshed, its token is used and the provider is not called;
//   4. the provider's answer is committed in one fenced UPDATE (access token, rotated refresh
//      token, expiry); only sealing (in-memory AES) happens between the answer and that UPDATE.
//
// Failure classes: invalid_grant (unchanged row) → dead, ACCOUNT_DEAD, no more attempts until a
// reconnect; 5xx / timeout / malformed → unhealthy, exponential backoff, 503 "retry"; a
// rejected client (invalid_client) → unhealthy with an operator-facing error, 502.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import { accountInScope, findAccountById, versionOf, type AccountRow } from '../accounts/account.repository.ts';
import { openAccountCredentials } from '../accounts/account-credentials.ts';
import { sealCredentials, sealRefreshToken } from '../accounts/account-store.ts';
import type { AuditEntry } from '../audit/audit-log.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { ApiError, notFound } from '../errors.ts';
import type { Vault } from '../keys/vault.ts';
import { resolveOAuthClient } from '../oauth-apps/oauth-apps.service.ts';
import { normaliseTokenResponse, type NormalisedTokens } from '../oauth/token-response.ts';
import { readPath } from '../oauth/json-path.ts';
import type { AppRegistry, RegistryApp, RegistryOAuthApp } from '../registry/registry.ts';
import { currentCredentialValues } from '../registry/credential-values.ts';
import { fillTemplate } from '../registry/templates.ts';
import { enqueueAccountEvent } from './account-events.ts';
import {
  commitRefresh,
  markAccountDead,
  markRefreshFailed,
  releaseRefreshLease,
  takeRefreshLease,
  type Fence,
  type LeasedAccount,
} from './refresh.repository.ts';
import { backoffActive, backoffMs, isExpired, isFresh, planNextRefresh, secondsUntil } from './schedule.ts';
import { PROVIDER_TIMEOUT_MS, TOKEN_RESPONSE_MAX_BYTES, requestRefresh, type RefreshOutcome } from './token-endpoint.ts';

export interface RefreshTuning {
  /** How long a lease protects a refresh; must exceed the provider call's worst case (2 × timeout). */
  leaseMs: number;
  /** How long a caller waits for another replica's refresh before a 503. */
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

/** request: the token is stale by the margin; force: refresh whatever the margin; due: the background refresher's claim. */
export type RefreshTrigger = 'request' | 'force' | 'due';

export interface LogSink {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AuditSink {
  record(entry: AuditEntry): void;
}

export interface RefresherDeps {
  db: Kysely<Database>;
  vault: Vault;
  registry: AppRegistry;
  logger?: LogSink | undefined;
  audit?: AuditSink | undefined;
}

/** The account's `error` texts: shown to API callers and operators, so never a secret or a provider body. */
export const ACCOUNT_ERRORS = {
  grantRevoked: 'the provider no longer accepts the refresh token (invalid_grant); reconnect the account',
  grantLostInInterruptedRefresh:
    'a refresh was interrupted before its result could be stored, and the provider no longer accepts the previous refresh token (invalid_grant); reconnect the account',
  expiredWithoutRefreshToken: 'the access token expired and the provider issued no refresh token; reconnect the account',
  clientRejected: 'the provider rejected the oauth client used to refresh this account; an operator must check the oauth app (client id and secret)',
  oauthAppMissing: "the account's oauth app no longer exists or does not match its app; an operator must restore it",
  providerUnavailable: 'the provider could not refresh the token; latchkey retries automatically',
} as const;

const noopLogger: LogSink = { info: () => {}, warn: () => {}, error: () => {} };

export const accountDeadError = (): ApiError =>
  new ApiError('account_dead', 'the account needs to be reconnected: its credentials can no longer be refreshed', { details: { reconnect: true } });

const providerUnavailableError = (retryAfterSeconds: number): ApiError =>
  new ApiError('provider_unavailable', 'the provider could not refresh the token; retry later, the account does not need a reconnect', {
    retryAfterSeconds,
  });

const clientRejectedError = (): ApiError =>
  new ApiError('provider_error', 'the provider rejected the oauth client used for this account; an operator must check the oauth app', {
    details: { operator_action_required: true },
  });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class CredentialRefresher {
  /** This replica's identity in refresh_lease_owner (host, pid and a per-start nonce). */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Mutable so tests (and operators experimenting) can shorten waits; read on every use. */
  readonly tuning: RefreshTuning;
  private readonly inflight = new Map<string, Promise<AccountRow>>();
  private readonly logger: LogSink;

  constructor(
    private readonly deps: RefresherDeps,
    tuning: Partial<RefreshTuning> = {},
  ) {
    this.tuning = { ...DEFAULT_REFRESH_TUNING, ...tuning };
    this.logger = deps.logger ?? noopLogger;
  }

  /** Refreshes `row` unless it is fresh by the margin; returns the row holding a usable token. */
  ensureFresh(row: AccountRow): Promise<AccountRow> {
    return this.singleFlight(row, 'request');
  }

  /** Admin and tests: refresh now, whatever the margin (same single-flight and lease path). */
  async forceRefresh(accountId: string, projectId: string, environment: EnvironmentName): Promise<AccountRow> {
    const row = await findAccountById(this.deps.db, accountId);
    if (!accountInScope(row, { projectId, environment })) throw notFound('account');
    const app = this.deps.registry.get(row.app_slug);
    if (app === undefined || app.auth_type !== 'oauth') throw new ApiError('conflict', 'only oauth accounts can be refreshed');
    return this.singleFlight(row, 'force');
  }

  /** The background refresher hands over an account it claimed (lease already taken). */
  refreshClaimed(leased: LeasedAccount): Promise<AccountRow> {
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

  private singleFlight(base: AccountRow, trigger: RefreshTrigger): Promise<AccountRow> {
    const existing = this.inflight.get(base.id);
    if (existing !== undefined) return existing;
    const flight = this.acquireAndRefresh(base, trigger).finally(() => {
      if (this.inflight.get(base.id) === flight) this.inflight.delete(base.id);
    });
    this.inflight.set(base.id, flight);
    return flight;
  }

  private async acquireAndRefresh(base: AccountRow, trigger: RefreshTrigger): Promise<AccountRow> {
    const deadline = Date.now() + this.tuning.waitLimitMs;
    for (;;) {
      const leased = await takeRefreshLease(this.deps.db, base.id, this.owner, `${this.owner}:${randomUUID()}`, this.tuning.leaseMs);
      if (leased !== undefined) return this.refreshUnderLease(base, leased, trigger);

      // Another replica (or this one's background job) holds the lease: wait for its outcome.
      const current = await findAccountById(this.deps.db, base.id);
      if (current === undefined) throw notFound('account');
      if (versionOf(current) !== versionOf(base)) return current;
      if (current.dead) throw accountDeadError();
      if (trigger !== 'force' && backoffActive(current, Date.now())) throw this.backoffError(current);
      const leaseFree = current.refresh_lease_until === null || current.refresh_lease_until.getTime() < Date.now();
      if (leaseFree) continue;
      if (Date.now() >= deadline) {
        throw new ApiError('refresh_in_progress', 'another refresh of this account is still running; retry shortly', {
          retryAfterSeconds: Math.min(5, secondsUntil(current.refresh_lease_until, Date.now())),
        });
      }
      await sleep(this.tuning.pollIntervalMs);
    }
  }

  private backoffError(row: AccountRow): ApiError {
    if (row.error === ACCOUNT_ERRORS.clientRejected || row.error === ACCOUNT_ERRORS.oauthAppMissing) return clientRejectedError();
    return providerUnavailableError(secondsUntil(row.refresh_backoff_until, Date.now()));
  }

  /** Runs with the lease held; every path ends by committing, marking or releasing it. */
  private async refreshUnderLease(base: AccountRow, leased: LeasedAccount, trigger: RefreshTrigger): Promise<AccountRow> {
    const fence: Fence = { id: leased.id, owner: this.owner, attemptId: leased.refresh_attempt_id! };
    const restore = { attemptId: leased.previous_attempt_id, attemptStartedAt: leased.previous_attempt_started_at };
    let settled = false;
    const release = async (changes: { nextRefreshAt?: Date | null } = {}): Promise<void> => {
      settled = true;
      await releaseRefreshLease(this.deps.db, fence, restore, changes);
    };
    try {
      const now = Date.now();
      const app = this.deps.registry.get(leased.app_slug);
      if (app === undefined || app.auth_type !== 'oauth') {
        // Nothing to refresh (an app removed from the registry, or a keys app): stop scheduling it.
        await release({ nextRefreshAt: null });
        return leased;
      }
      // The re-read: a sibling replica may have refreshed between our read and the lease.
      if (trigger === 'request' && (versionOf(leased) !== versionOf(base) || isFresh(leased, app, now))) {
        await release();
        return leased;
      }
      if (leased.dead) {
        await release();
        throw accountDeadError();
      }
      if (trigger !== 'force' && backoffActive(leased, now)) {
        await release();
        throw this.backoffError(leased);
      }

      const opened = await openAccountCredentials(this.deps.vault, leased);
      if (opened.refreshToken === null) return await this.withoutRefreshToken(leased, app, trigger, fence, release);

      const client = await resolveOAuthClient(this.deps.db, this.deps.vault, leased.project_id, leased.app_slug, leased.oauth_app_id);
      if (client === undefined || (leased.oauth_app_id !== null && client.id !== leased.oauth_app_id)) {
        settled = true;
        await this.markFailed(leased, app, fence, ACCOUNT_ERRORS.oauthAppMissing, false);
        throw clientRejectedError();
      }
      const url = new URL(fillTemplate(app.oauth.refresh_url, currentCredentialValues(app, opened.values), 'url'));
      // Load the project's data key now, so sealing the answer below needs no query.
      await sealRefreshToken(this.deps.vault, leased.project_id, leased.id, 'warm-up');

      const outcome = await requestRefresh({
        oauth: app.oauth,
        url,
        client,
        refreshToken: opened.refreshToken,
        timeoutMs: this.tuning.providerTimeoutMs,
        maxBytes: this.tuning.maxResponseBytes,
      });
      settled = true;
      return await this.settle(leased, app, fence, opened.values, outcome, trigger);
    } finally {
      if (!settled) {
        // An unexpected error (database, decryption): give the lease back, keep the attempt record.
        await releaseRefreshLease(this.deps.db, fence, restore).catch(() => {});
      }
    }
  }

  private async withoutRefreshToken(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    trigger: RefreshTrigger,
    fence: Fence,
    release: (changes?: { nextRefreshAt?: Date | null }) => Promise<void>,
  ): Promise<AccountRow> {
    if (isExpired(leased, Date.now())) {
      await this.markDead(leased, app, fence, ACCOUNT_ERRORS.expiredWithoutRefreshToken);
      throw accountDeadError();
    }
    // Still valid (or of unknown expiry): usable until it expires; the refresher looks again then.
    await release({ nextRefreshAt: leased.expires_at });
    if (trigger === 'force') throw new ApiError('conflict', 'the account has no refresh token, so it cannot be refreshed');
    return leased;
  }

  private async settle(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    values: Record<string, string>,
    outcome: RefreshOutcome,
    trigger: RefreshTrigger,
  ): Promise<AccountRow> {
    const interrupted = leased.previous_attempt_id !== null;
    if (outcome.kind === 'issued') {
      const failure = errorInBody(outcome.body, app);
      if (failure === 'grant_invalid') return this.grantInvalid(leased, app, fence, interrupted, trigger);
      if (failure === 'client_rejected') return this.clientRejected(leased, app, fence, trigger);
      let tokens: NormalisedTokens;
      try {
        tokens = normaliseTokenResponse(app.oauth, outcome.body, leased.authorized_scopes, new Date());
      } catch {
        return this.unavailable(leased, app, fence, { reason: 'answered with a malformed token response', uncertain: false }, trigger);
      }
      return this.commit(leased, app, fence, values, tokens, trigger);
    }
    if (outcome.kind === 'grant_invalid') return this.grantInvalid(leased, app, fence, interrupted, trigger);
    if (outcome.kind === 'client_rejected') return this.clientRejected(leased, app, fence, trigger, outcome.code);
    return this.unavailable(leased, app, fence, outcome, trigger);
  }

  private async commit(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    values: Record<string, string>,
    tokens: NormalisedTokens,
    trigger: RefreshTrigger,
  ): Promise<AccountRow> {
    const now = Date.now();
    const credentials = { ...values, ...tokens.extras, oauth_access_token: tokens.accessToken };
    const committed = await commitRefresh(this.deps.db, fence, {
      credentialsEnc: await sealCredentials(this.deps.vault, leased.project_id, leased.id, credentials),
      // No refresh_token in the answer: the stored one stays valid (RFC 6749 §6).
      refreshTokenEnc:
        tokens.refreshToken === null ? undefined : ((await sealRefreshToken(this.deps.vault, leased.project_id, leased.id, tokens.refreshToken)) ?? undefined),
      authorizedScopes: tokens.authorizedScopes,
      expiresAt: tokens.expiresAt,
      nextRefreshAt: planNextRefresh(app, tokens.expiresAt, now),
    });
    if (committed === undefined) {
      // The fence failed: our lease expired and another holder took over, or a reconnect
      // replaced the credentials meanwhile. Their state wins; ours is dropped.
      this.logger.error({ accountId: leased.id, trigger }, 'refresh result not stored: the lease was lost before the commit');
      this.audit(leased, trigger, 'error', 'lease_lost');
      throw new ApiError('refresh_in_progress', 'the refresh could not be stored; retry shortly', { retryAfterSeconds: 1 });
    }
    this.audit(leased, trigger, 'ok', 'refreshed');
    if (!leased.healthy) {
      await enqueueAccountEvent(this.deps.db, 'ACCOUNT_RECOVERED', committed, app).catch((err: unknown) =>
        this.logger.error({ err, accountId: leased.id }, 'could not enqueue ACCOUNT_RECOVERED'),
      );
    }
    return committed;
  }

  private async grantInvalid(leased: LeasedAccount, app: RegistryOAuthApp, fence: Fence, interrupted: boolean, trigger: RefreshTrigger): Promise<AccountRow> {
    // Re-read before condemning the account: a reconnect (or a sibling) may have replaced the
    // refresh token while we used the old one.
    const current = await findAccountById(this.deps.db, leased.id);
    if (current === undefined) throw notFound('account');
    if (versionOf(current) !== versionOf(leased)) {
      await releaseRefreshLease(this.deps.db, fence, { attemptId: null, attemptStartedAt: null });
      this.audit(leased, trigger, 'ok', 'superseded');
      return current;
    }
    await this.markDead(leased, app, fence, interrupted ? ACCOUNT_ERRORS.grantLostInInterruptedRefresh : ACCOUNT_ERRORS.grantRevoked);
    this.audit(leased, trigger, 'conflict', interrupted ? 'grant_invalid_after_interruption' : 'grant_invalid');
    throw accountDeadError();
  }

  private async markDead(leased: LeasedAccount, app: RegistryOAuthApp, fence: Fence, error: string): Promise<void> {
    // The state change and its webhook are recorded together, or not at all.
    const dead = await this.deps.db.transaction().execute(async (trx) => {
      const row = await markAccountDead(trx, fence, error);
      if (row !== undefined) await enqueueAccountEvent(trx, 'ACCOUNT_DEAD', row, app);
      return row;
    });
    if (dead !== undefined) this.logger.warn({ accountId: leased.id, projectId: leased.project_id }, 'account marked dead: it must be reconnected');
  }

  private async clientRejected(leased: LeasedAccount, app: RegistryOAuthApp, fence: Fence, trigger: RefreshTrigger, code?: string): Promise<AccountRow> {
    this.logger.error({ accountId: leased.id, app: app.slug, oauthError: code }, 'the provider rejected the oauth client during a refresh');
    await this.markFailed(leased, app, fence, ACCOUNT_ERRORS.clientRejected, false);
    this.audit(leased, trigger, 'error', 'client_rejected');
    throw clientRejectedError();
  }

  private async unavailable(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    outcome: { reason: string; uncertain: boolean; retryAfterSeconds?: number | undefined },
    trigger: RefreshTrigger,
  ): Promise<AccountRow> {
    this.logger.warn({ accountId: leased.id, app: app.slug, reason: outcome.reason, uncertain: outcome.uncertain }, 'token refresh failed; backing off');
    const backoffUntil = await this.markFailed(
      leased,
      app,
      fence,
      `${ACCOUNT_ERRORS.providerUnavailable} (${outcome.reason})`,
      outcome.uncertain,
      outcome.retryAfterSeconds,
    );
    this.audit(leased, trigger, 'unavailable', outcome.reason);
    throw providerUnavailableError(secondsUntil(backoffUntil, Date.now()));
  }

  private async markFailed(
    leased: LeasedAccount,
    app: RegistryOAuthApp,
    fence: Fence,
    error: string,
    keepAttempt: boolean,
    retryAfterSeconds?: number,
  ): Promise<Date> {
    const failures = leased.refresh_failures + 1;
    const backoffUntil = new Date(Date.now() + Math.max(backoffMs(failures), (retryAfterSeconds ?? 0) * 1000));
    await this.deps.db.transaction().execute(async (trx) => {
      const row = await markRefreshFailed(trx, fence, { error, failures, backoffUntil, keepAttempt });
      // Told once per episode: on the transition from healthy.
      if (row !== undefined && leased.healthy) await enqueueAccountEvent(trx, 'ACCOUNT_UNHEALTHY', row, app);
    });
    return backoffUntil;
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

export function isOAuthApp(app: RegistryApp | undefined): app is RegistryOAuthApp {
  return app !== undefined && app.auth_type === 'oauth';
}
