// Enqueue webhook events into the PostgreSQL outbox. Delivery (signing, retries, backoff) is the
// delivery worker's job; callers only say what happened, inside their own transaction if they
// have one, so an event is recorded exactly when the change it describes is.
import type { Kysely, Transaction } from 'kysely';
import { mintId } from '../crypto/tokens.ts';
import type { Database, EnvironmentName } from '../db/types.ts';
import { findWebhookUrl } from './environments.repository.ts';

type Db = Kysely<Database> | Transaction<Database>;

export type WebhookEvent = 'CONNECTION_SUCCESS' | 'CONNECTION_ERROR' | 'ACCOUNT_DEAD' | 'ACCOUNT_RECOVERED' | 'ACCOUNT_UNHEALTHY';

export interface EventTarget {
  projectId: string;
  environment: EnvironmentName;
}

/** Sends to one explicit URL (a connect token's webhook_uri). */
export async function enqueueWebhook(db: Db, target: EventTarget & { url: string }, event: WebhookEvent, payload: Record<string, unknown>): Promise<void> {
  await db
    .insertInto('webhook_outbox')
    .values({
      id: mintId('whd_', 24),
      project_id: target.projectId,
      environment: target.environment,
      url: target.url,
      event,
      payload: JSON.stringify({ event, ...payload }),
    })
    .execute();
}

/** Sends to the project environment's own webhook, when one is configured. */
export async function enqueueProjectEvent(db: Db, target: EventTarget, event: WebhookEvent, payload: Record<string, unknown>): Promise<void> {
  const url = await findWebhookUrl(db, target);
  if (url === undefined) return;
  await enqueueWebhook(db, { ...target, url }, event, payload);
}

/**
 * CONNECTION_SUCCESS / CONNECTION_ERROR: to the connect token's webhook_uri (when it has one)
 * and to the project environment's own webhook (when one is set). Pipedream's payload shape;
 * the payload must never hold credentials.
 */
export async function enqueueConnectionEvent(
  db: Db,
  target: EventTarget & { webhookUri: string | null },
  event: 'CONNECTION_SUCCESS' | 'CONNECTION_ERROR',
  payload: Record<string, unknown>,
): Promise<void> {
  const scope = { projectId: target.projectId, environment: target.environment };
  const body = { environment: target.environment, ...payload };
  if (target.webhookUri !== null) await enqueueWebhook(db, { ...scope, url: target.webhookUri }, event, body);
  await enqueueProjectEvent(db, scope, event, body);
}
