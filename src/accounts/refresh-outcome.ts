// What asking for a fresh token can come to. The refresh engine (src/refresh) returns one of
// these and never an HTTP error; the routes that read credentials or force a refresh map it to
// the error catalogue (account-errors.ts). Defined here, below the engine, so the credential
// read can take the engine as an injected function without importing it.
import type { AccountErrorCode } from '../db/types.ts';
import type { AccountRow } from './account.repository.ts';

export type RefreshOutcome =
  /** Usable as it is: fresh by the margin, refreshed by a sibling meanwhile, or nothing to refresh. */
  | { readonly kind: 'fresh'; readonly row: AccountRow }
  /** This call refreshed it; `row` holds the new token. */
  | { readonly kind: 'refreshed'; readonly row: AccountRow }
  /** The provider no longer accepts the grant: only a reconnect helps. */
  | { readonly kind: 'dead'; readonly code: AccountErrorCode }
  /**
   * The refresh failed for a reason that may pass (provider down: retry after `retryAfterSeconds`)
   * or that an operator must fix (client rejected, OAuth app missing: `code` says which).
   */
  | { readonly kind: 'unavailable'; readonly code: AccountErrorCode; readonly retryAfterSeconds: number }
  /** Another refresh holds the account (or took it over from us): retry shortly. */
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number; readonly reason: 'lease_held' | 'lease_lost' }
  /** The account was deleted while the refresh waited for it. */
  | { readonly kind: 'gone' }
  /** A forced refresh of an account that has nothing to refresh with. */
  | { readonly kind: 'unrefreshable'; readonly reason: 'not_oauth' | 'no_refresh_token' };

export type RefreshFailure = Exclude<RefreshOutcome, { kind: 'fresh' | 'refreshed' }>;

/** The engine's entry points, as the features that use it see them (wired in app.ts). */
export type RefreshAccount = (row: AccountRow) => Promise<RefreshOutcome>;

/** Failures an operator must fix rather than wait out. */
export const OPERATOR_FAILURES: ReadonlySet<AccountErrorCode> = new Set(['client_rejected', 'oauth_app_missing']);

/** The account's `error` text for each code: shown to API callers and operators, so never a secret or a provider body. */
export const ACCOUNT_FAILURE_TEXTS: Readonly<Record<AccountErrorCode, string>> = {
  grant_revoked: 'the provider no longer accepts the refresh token (invalid_grant); reconnect the account',
  grant_lost_in_interrupted_refresh:
    'a refresh was interrupted before its result could be stored, and the provider no longer accepts the previous refresh token (invalid_grant); reconnect the account',
  expired_without_refresh_token: 'the access token expired and the provider issued no refresh token; reconnect the account',
  client_rejected: 'the provider rejected the oauth client used to refresh this account; an operator must check the oauth app (client id and secret)',
  oauth_app_missing: "the account's oauth app no longer exists or does not match its app; an operator must restore it",
  provider_unavailable: 'the provider could not refresh the token; latchkey retries automatically',
  test_request_failed: "the app's test request failed with the stored key; check the key at the provider or reconnect the account",
  credentials_rejected:
    'the provider no longer accepts the client credentials or key this account mints its tokens with (invalid_client, unauthorized_client or invalid_grant); reconnect the account with valid ones',
};
