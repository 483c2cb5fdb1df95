// Health changes of an account, told to the project environment's webhook through the outbox.
// The payload is the account object without credentials, with the same app object as the API,
// like Pipedream's connection webhooks.
import type { Kysely, Transaction } from 'kysely';
import type { AccountRow } from '../accounts/account.repository.ts';
import { toAccountView } from '../accounts/account-view.ts';
import type { AppView } from '../apps/app-view.ts';
import type { Database } from '../db/types.ts';
import { enqueueProjectEvent } from '../webhooks/events.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type AccountHealthEvent = 'ACCOUNT_DEAD' | 'ACCOUNT_RECOVERED' | 'ACCOUNT_UNHEALTHY';

export async function enqueueAccountEvent(db: Db, event: AccountHealthEvent, row: AccountRow, app: AppView): Promise<void> {
  await enqueueProjectEvent(db, { projectId: row.project_id, environment: row.environment }, event, {
    environment: row.environment,
    account: toAccountView(row, app),
  });
}
