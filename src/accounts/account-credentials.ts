// Opening an account's sealed credentials. The project's data key is cached, so an open is two
// AES-GCM decrypts and no query; the first read in a process loads the key once.
//
// The credential hot path goes one step further (RecentCredentials): a backend typically reads
// the same account before every API call, and the two decrypts (with their associated-data
// encoding) were the largest cost of such a read. So the opened values of recently read accounts
// are kept for a short time, and reused only while the row still holds byte-identical
// ciphertexts: any refresh, reconnect or other rewrite changes the bytes and forces a fresh
// open (which authenticates them again against this row and column). What this keeps in memory
// is no more than what the cached data keys already unlock; it is bounded in size and age.
import { ApiError } from '../errors.ts';
import { DecryptionError, type Vault } from '../keys/vault.ts';
import type { AccountRow } from './account.repository.ts';
import { credentialsContext, refreshTokenContext, type CredentialValues } from './account-store.ts';

export interface OpenedCredentials {
  values: CredentialValues;
  refreshToken: string | null;
}

async function openSealed(vault: Vault, context: ReturnType<typeof credentialsContext>, sealed: Buffer): Promise<Buffer> {
  try {
    return vault.openCached(context, sealed) ?? (await vault.open(context, sealed));
  } catch (err) {
    // Tampered, moved to another row or column, or sealed under a key we do not have.
    if (err instanceof DecryptionError)
      throw new ApiError('credential_unreadable', 'the stored credentials of this account could not be decrypted', { cause: err });
    throw err;
  }
}

export async function openAccountCredentials(vault: Vault, row: AccountRow): Promise<OpenedCredentials> {
  const values = JSON.parse((await openSealed(vault, credentialsContext(row.id), row.credentials_enc)).toString('utf8')) as CredentialValues;
  const refreshToken = row.refresh_token_enc === null ? null : (await openSealed(vault, refreshTokenContext(row.id), row.refresh_token_enc)).toString('utf8');
  return { values, refreshToken };
}

export const RECENT_CREDENTIALS_TTL_MS = 60_000;
export const RECENT_CREDENTIALS_MAX = 10_000;

interface RecentEntry {
  credentialsEnc: Buffer;
  refreshTokenEnc: Buffer | null;
  opened: OpenedCredentials;
  at: number;
}

export class RecentCredentials {
  private readonly entries = new Map<string, RecentEntry>();

  constructor(
    private readonly vault: Vault,
    private readonly ttlMs = RECENT_CREDENTIALS_TTL_MS,
    private readonly maxEntries = RECENT_CREDENTIALS_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  async open(row: AccountRow): Promise<OpenedCredentials> {
    const now = this.now();
    const entry = this.entries.get(row.id);
    if (entry !== undefined) {
      if (now - entry.at <= this.ttlMs && entry.credentialsEnc.equals(row.credentials_enc) && sameBytes(entry.refreshTokenEnc, row.refresh_token_enc)) {
        return entry.opened;
      }
      this.entries.delete(row.id);
    }
    const opened = await openAccountCredentials(this.vault, row);
    Object.freeze(opened.values);
    if (this.entries.size >= this.maxEntries) {
      // Insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(row.id, { credentialsEnc: row.credentials_enc, refreshTokenEnc: row.refresh_token_enc, opened: Object.freeze(opened), at: now });
    return opened;
  }

  forget(accountId: string): void {
    this.entries.delete(accountId);
  }

  get size(): number {
    return this.entries.size;
  }
}

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

export async function openAccountRefreshToken(vault: Vault, row: AccountRow): Promise<string | null> {
  return row.refresh_token_enc === null ? null : (await openSealed(vault, refreshTokenContext(row.id), row.refresh_token_enc)).toString('utf8');
}
