// The project environment's own webhook (Pipedream's projectEnvironment resource) and project
// info. The signing key is returned in full once: in the response of the PUT that first sets a
// webhook while the key was never shown (it was just made, or made earlier for connect-token
// deliveries), or of a regeneration. GET says only whether one is set. Deleting the webhook keeps
// the key: it also signs the webhook_uri deliveries of connect tokens, and rotating it silently
// would break them; but setting a webhook again does not show it again (a key is shown only when
// it is created or rotated).
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { checkWebhookUri } from '../connect/redirect-uris.ts';
import type { Database } from '../db/types.ts';
import type { EgressGuard } from '../egress/egress-guard.ts';
import { badRequest, notFound } from '../errors.ts';
import type { Vault } from '../keys/vault.ts';
import { appId } from '../apps/app-view.ts';
import type { AppRegistry } from '../registry/registry.ts';
import { generateSigningKey, openSigningKey, sealSigningKey } from '../webhooks/signing-key.ts';
import { listAccountAppSlugs } from '../accounts/account.repository.ts';
import { listOAuthAppSlugs } from '../oauth-apps/oauth-apps.repository.ts';
import {
  claimSigningKeyReveal,
  clearWebhookUrl,
  findEnvironment,
  replaceSigningKey,
  setWebhookUrl,
  type EnvironmentKey,
  type EnvironmentRow,
} from '../webhooks/environments.repository.ts';

export interface ProjectWebhookDeps {
  db: Kysely<Database>;
  vault: Vault;
  registry: AppRegistry;
  egress: EgressGuard;
}

export interface WebhookView {
  id: string;
  url: string;
  signing_key?: string;
  signing_key_set: boolean;
  /** Unix seconds, as Pipedream's API. */
  created_at: number;
  updated_at: number;
}

/** A stable public id for the environment's webhook (the environment has no id of its own). */
function webhookId(key: EnvironmentKey): string {
  return `whk_${createHash('sha256').update(`${key.projectId}/${key.environment}`).digest('hex').slice(0, 24)}`;
}

const unixSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

function toView(key: EnvironmentKey, row: EnvironmentRow, signingKey?: string): WebhookView {
  return {
    id: webhookId(key),
    url: row.webhook_url ?? '',
    ...(signingKey === undefined ? {} : { signing_key: signingKey }),
    signing_key_set: row.webhook_signing_key_enc !== null,
    created_at: unixSeconds(row.created_at),
    updated_at: unixSeconds(row.updated_at),
  };
}

async function environmentOrThrow(db: Kysely<Database>, key: EnvironmentKey): Promise<EnvironmentRow> {
  const row = await findEnvironment(db, key);
  if (row === undefined) throw notFound('project environment');
  return row;
}

export async function getProjectWebhook(deps: ProjectWebhookDeps, key: EnvironmentKey): Promise<WebhookView | null> {
  const row = await environmentOrThrow(deps.db, key);
  return row.webhook_url === null ? null : toView(key, row);
}

export async function setProjectWebhook(deps: ProjectWebhookDeps, key: EnvironmentKey, rawUrl: string): Promise<WebhookView> {
  const check = await checkWebhookUri(rawUrl, deps.egress);
  if (!check.ok) throw badRequest(`url ${check.reason}`);
  const before = await environmentOrThrow(deps.db, key);
  const freshKey = before.webhook_signing_key_enc === null ? await sealSigningKey(deps.vault, key, generateSigningKey()) : before.webhook_signing_key_enc;
  const row = await setWebhookUrl(deps.db, key, check.value, freshKey);
  if (row?.webhook_signing_key_enc == null) throw notFound('project environment');
  // Creating a webhook shows its key (Pipedream: "Creating a webhook returns signing_key;
  // updating an existing webhook does not"), but only a key nobody was shown yet.
  const creating = before.webhook_url === null;
  const reveal = creating && (await claimSigningKeyReveal(deps.db, key));
  return toView(key, row, reveal ? await openSigningKey(deps.vault, key, row.webhook_signing_key_enc) : undefined);
}

export async function deleteProjectWebhook(deps: ProjectWebhookDeps, key: EnvironmentKey): Promise<void> {
  await environmentOrThrow(deps.db, key);
  await clearWebhookUrl(deps.db, key);
}

export async function regenerateSigningKey(deps: ProjectWebhookDeps, key: EnvironmentKey): Promise<WebhookView & { signing_key: string }> {
  await environmentOrThrow(deps.db, key);
  const signingKey = generateSigningKey();
  const row = await replaceSigningKey(deps.db, key, await sealSigningKey(deps.vault, key, signingKey));
  if (row === undefined) throw notFound('project environment');
  return { ...toView(key, row), signing_key: signingKey };
}

/** Registry apps this project environment uses: apps with accounts here, or with a project OAuth app. */
export async function projectInfo(deps: ProjectWebhookDeps, key: EnvironmentKey): Promise<{ apps: { id: string; name_slug: string }[] }> {
  const [withAccounts, withClients] = await Promise.all([listAccountAppSlugs(deps.db, key), listOAuthAppSlugs(deps.db, key.projectId)]);
  const slugs = [...new Set([...withAccounts, ...withClients])].sort();
  return { apps: slugs.map((slug) => ({ id: appId(slug), name_slug: slug })) };
}
