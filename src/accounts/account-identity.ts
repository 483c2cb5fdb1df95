// Who a connected account is at its provider, for a reconnect: the provider's user id
// (`oauth_uid`, from the ID token) where both sides have one, else the account's name (the test
// request's or the token response's). A reconnect that comes back as someone else would hand the
// account — its id, its history, the backend's references to it — to another provider user.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/types.ts';
import type { SecretOpener } from './account-secrets.ts';
import { openAccountSecrets } from './account-secrets.ts';
import { findAccountById } from './account.repository.ts';

export interface ProviderIdentity {
  readonly uid: string | undefined;
  readonly name: string | null;
}

/** True when the stored account and the new grant are known to be different provider users. */
export function identitiesDiffer(stored: ProviderIdentity, next: ProviderIdentity): boolean {
  if (stored.uid !== undefined && next.uid !== undefined) return stored.uid !== next.uid;
  if (stored.name !== null && next.name !== null) return stored.name !== next.name;
  return false; // nothing to compare: neither side names its user the same way
}

/** The stored account's identity, or undefined when the account is gone (the write will say so). */
export async function storedIdentity(
  db: Kysely<Database> | Transaction<Database>,
  vault: SecretOpener,
  accountId: string,
): Promise<ProviderIdentity | undefined> {
  const row = await findAccountById(db, accountId);
  if (row === undefined) return undefined;
  const { values } = await openAccountSecrets(vault, row);
  return { uid: values['oauth_uid'], name: row.name };
}
