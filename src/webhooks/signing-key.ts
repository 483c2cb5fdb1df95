// Standard Webhooks signing (standardwebhooks.com): the secret is `whsec_` + base64 of random
// bytes; a message is signed as HMAC-SHA256(secret bytes, "{msg_id}.{timestamp}.{body}") and
// sent as `webhook-signature: v1,<base64>`. One key per project environment, sealed in
// environments.webhook_signing_key_enc; it signs both the environment's own webhook and the
// webhook_uri deliveries of its connect tokens.
import { createHmac, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import type { SealContext, Vault } from '../keys/vault.ts';
import { findEnvironment, setSigningKeyIfAbsent, type EnvironmentKey } from './environments.repository.ts';

export const SIGNING_KEY_PREFIX = 'whsec_';
const SIGNING_KEY_BYTES = 32;

export function generateSigningKey(): string {
  return `${SIGNING_KEY_PREFIX}${randomBytes(SIGNING_KEY_BYTES).toString('base64')}`;
}

export function signingKeyContext(key: EnvironmentKey): SealContext {
  return {
    table: 'environments',
    column: 'webhook_signing_key_enc',
    rowId: `${key.projectId}/${key.environment}`,
    projectId: key.projectId,
    environment: key.environment,
  };
}

export function sealSigningKey(vault: Vault, key: EnvironmentKey, signingKey: string): Promise<Buffer> {
  return vault.seal(signingKeyContext(key), signingKey);
}

export function openSigningKey(vault: Vault, key: EnvironmentKey, sealed: Buffer): Promise<string> {
  return vault.openString(signingKeyContext(key), sealed);
}

/**
 * The environment's signing key, created on first need so that every delivery is signed even
 * when nobody configured a project webhook. Undefined only for an unknown environment.
 */
export async function ensureSigningKey(db: Kysely<Database>, vault: Vault, key: EnvironmentKey): Promise<string | undefined> {
  let row = await findEnvironment(db, key);
  if (row === undefined) return undefined;
  if (row.webhook_signing_key_enc === null) {
    row = await setSigningKeyIfAbsent(db, key, await sealSigningKey(vault, key, generateSigningKey()));
    if (row?.webhook_signing_key_enc == null) return undefined;
  }
  return openSigningKey(vault, key, row.webhook_signing_key_enc);
}

/** `v1,<base64 HMAC-SHA256>` over `{id}.{timestamp}.{body}` with the secret's decoded bytes. */
export function signWebhook(signingKey: string, id: string, timestamp: number, body: string): string {
  const secret = Buffer.from(signingKey.startsWith(SIGNING_KEY_PREFIX) ? signingKey.slice(SIGNING_KEY_PREFIX.length) : signingKey, 'base64');
  const mac = createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}
