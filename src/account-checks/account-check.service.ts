// Checks an account: its app's test request, sent with the account's fresh credentials through
// the registry's injection (the request the code templates make too). The steps:
//   1. the app declares a test request (else there is nothing to check);
//   2. the credentials are fresh (an OAuth token is refreshed first; a dead account is not checked);
//   3. the request runs, fenced as at connect time (deadline, no redirects, capped body);
//   4. the outcome is recorded — for a key-based account it is the account's health, and a
//      change of health enqueues ACCOUNT_UNHEALTHY / ACCOUNT_RECOVERED in the same transaction.
// The provider's body can hold personal data: it is kept only when the caller asks and may see it.
import type { Kysely } from 'kysely';
import { recordAccountCheck } from '../accounts/account-check.repository.ts';
import type { AccountRow } from '../accounts/account.repository.ts';
import { retrieveAccountCredentials, type AccountsDeps } from '../accounts/accounts.service.ts';
import type { RefreshFailure } from '../accounts/refresh-outcome.ts';
import type { Database } from '../db/types.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { runTestRequest } from '../oauth/test-request.ts';
import { oauth1SigningOf, type OAuthClientLookup } from '../oauth-apps/oauth1-consumer.ts';
import { enqueueAccountEvent } from '../refresh/account-events.ts';

export interface AccountCheckDeps {
  readonly db: Kysely<Database>;
  readonly accounts: AccountsDeps;
  /** The only way out for the test request, as at connect time. */
  readonly egress: Pick<EgressGuard, 'request'>;
  readonly now: () => Date;
  /** OAuth 1.0a apps: the consumer secret the test request is signed with. */
  readonly oauthClients?: OAuthClientLookup;
}

export type CheckResult =
  | { readonly kind: 'checked'; readonly ok: boolean; readonly status: number | null; readonly checkedAt: Date; readonly body?: string }
  | { readonly kind: 'no_test_request' }
  | { readonly kind: 'credentials_unavailable'; readonly failure: RefreshFailure };

export async function checkAccount(deps: AccountCheckDeps, row: AccountRow, options: { keepResponse: boolean }): Promise<CheckResult> {
  const app = deps.accounts.registry.get(row.app_slug);
  const testRequest = app?.test_request;
  if (app === undefined || testRequest === undefined) return { kind: 'no_test_request' };

  const read = await retrieveAccountCredentials(deps.accounts, { projectId: row.project_id, environment: row.environment }, row.id);
  if (!read.ok) return { kind: 'credentials_unavailable', failure: read.failure };
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(read.view.credentials ?? {})) if (typeof value === 'string') values[name] = value;

  const oauth1 = await oauth1SigningOf(deps.oauthClients, app, row);
  const outcome = await runTestRequest({
    app: { ...app, test_request: testRequest },
    values,
    keepResponse: true,
    egress: deps.egress,
    ...(oauth1 === undefined ? {} : { oauth1 }),
  });
  const checkedAt = deps.now();
  await deps.db.transaction().execute(async (trx) => {
    const recorded = await recordAccountCheck(trx, row.id, {
      ok: outcome.ok,
      checkedAt,
      setsHealth: app.auth_type === 'keys',
      ...(outcome.ok ? {} : { reason: outcome.reason }),
    });
    if (recorded === undefined || !recorded.changed) return;
    const event = recorded.row.healthy ? 'ACCOUNT_RECOVERED' : 'ACCOUNT_UNHEALTHY';
    await enqueueAccountEvent(trx, event, recorded.row, deps.accounts.appViews.of(app, row.app_slug));
  });
  return {
    kind: 'checked',
    ok: outcome.ok,
    status: outcome.status ?? null,
    checkedAt,
    ...(options.keepResponse && outcome.body !== undefined ? { body: outcome.body } : {}),
  };
}
