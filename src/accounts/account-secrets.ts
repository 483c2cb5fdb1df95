// How an account's secrets are sealed and opened. credentials_enc seals a JSON object of every
// credential the API returns except the refresh token (oauth_access_token, oauth_client_id,
// api_key, subdomain, instance_url, …); refresh_token_enc seals the refresh token alone. Each is
// bound to its row, column, project and environment, so a ciphertext copied to another account
// or column, or a row moved to another project or environment, fails to open.
// openAccountSecrets is the one way to open them.
//
// The credential hot path goes one step further (RecentCredentials): a backend typically reads
// the same account before every API call, and the two decrypts (with their associated-data
// encoding) were the largest cost of such a read. So the opened values of recently read accounts
// are kept for a short time, and reused only while the row still holds byte-identical
// ciphertexts in the same project and environment: any refresh, reconnect or other rewrite
// changes the bytes, and a row moved elsewhere changes its binding; either forces a fresh open
// (which authenticates them again against this row, column, project and environment). What this keeps in memory
// is no more than what the cached data keys already unlock; it is bounded in size and age.
import type { EnvironmentName } from '../db/types.ts';
import { ApiError } from '../errors.ts';
import { DecryptionError, type SealContext, type Vault } from '../keys/vault.ts';
import type { AccountRow } from './account.repository.ts';

export type CredentialValues = Record<string, string>;

export interface AccountSecrets {
  readonly credentials: CredentialValues;
  /** Null, undefined or '' store no refresh token. */
  readonly refreshToken: string | null | undefined;
}

export interface SealedAccountSecrets {
  readonly credentials_enc: Buffer;
  readonly refresh_token_enc: Buffer | null;
}

export interface OpenedCredentials {
  readonly values: Readonly<CredentialValues>;
  readonly refreshToken: string | null;
}

type SealedColumns = Pick<AccountRow, 'id' | 'project_id' | 'environment' | 'credentials_enc' | 'refresh_token_enc'>;

/** What an account's secrets are bound to besides their column. */
export interface AccountLocation {
  readonly id: string;
  readonly projectId: string;
  readonly environment: EnvironmentName;
}

export function locationOf(row: Pick<AccountRow, 'id' | 'project_id' | 'environment'>): AccountLocation {
  return { id: row.id, projectId: row.project_id, environment: row.environment };
}

/** What opening needs of the vault (a test may count the opens through its own). */
export type SecretOpener = Pick<Vault, 'open'>;

export function credentialsContext(account: AccountLocation): SealContext {
  return { table: 'accounts', column: 'credentials_enc', rowId: account.id, projectId: account.projectId, environment: account.environment };
}

export function refreshTokenContext(account: AccountLocation): SealContext {
  return { table: 'accounts', column: 'refresh_token_enc', rowId: account.id, projectId: account.projectId, environment: account.environment };
}

export async function sealAccountSecrets(vault: Vault, account: AccountLocation, secrets: AccountSecrets): Promise<SealedAccountSecrets> {
  const refreshToken = secrets.refreshToken;
  return {
    credentials_enc: await sealCredentials(vault, account, secrets.credentials),
    refresh_token_enc: refreshToken === undefined || refreshToken === null || refreshToken === '' ? null : await sealRefreshToken(vault, account, refreshToken),
  };
}

/** A refresh that rotated the refresh token seals the new one alone. */
export function sealRefreshToken(vault: Vault, account: AccountLocation, refreshToken: string): Promise<Buffer> {
  return vault.seal(refreshTokenContext(account), refreshToken);
}

export function sealCredentials(vault: Vault, account: AccountLocation, credentials: CredentialValues): Promise<Buffer> {
  return vault.seal(credentialsContext(account), JSON.stringify(credentials));
}

export const CREDENTIALS_UNREADABLE_MESSAGE = 'the stored credentials of this account could not be decrypted';

async function openSealed(vault: SecretOpener, context: SealContext, sealed: Buffer): Promise<Buffer> {
  try {
    return await vault.open(context, sealed);
  } catch (err) {
    // Tampered, moved to another row or column, or sealed under a key we do not have.
    if (err instanceof DecryptionError) {
      throw new ApiError('credential_unreadable', CREDENTIALS_UNREADABLE_MESSAGE, { cause: err });
    }
    throw err;
  }
}

export async function openAccountSecrets(vault: SecretOpener, row: SealedColumns): Promise<OpenedCredentials> {
  const account = locationOf(row);
  const values = JSON.parse((await openSealed(vault, credentialsContext(account), row.credentials_enc)).toString('utf8')) as CredentialValues;
  const refreshToken = row.refresh_token_enc === null ? null : (await openSealed(vault, refreshTokenContext(account), row.refresh_token_enc)).toString('utf8');
  return { values, refreshToken };
}

export const RECENT_CREDENTIALS_TTL_MS = 60_000;
export const RECENT_CREDENTIALS_MAX = 10_000;

interface RecentEntry {
  /** What the values were authenticated against besides the bytes: a moved row must open afresh. */
  projectId: string;
  environment: EnvironmentName;
  credentialsEnc: Buffer;
  refreshTokenEnc: Buffer | null;
  opened: OpenedCredentials;
  at: number;
}

/** One per app instance (app.ts makes it): the recently opened credentials, keyed by account. */
export class RecentCredentials {
  private readonly entries = new Map<string, RecentEntry>();

  constructor(
    private readonly vault: SecretOpener,
    private readonly ttlMs = RECENT_CREDENTIALS_TTL_MS,
    private readonly maxEntries = RECENT_CREDENTIALS_MAX,
    private readonly now: () => number = Date.now,
  ) {}

  async open(row: SealedColumns): Promise<OpenedCredentials> {
    const now = this.now();
    const entry = this.entries.get(row.id);
    if (entry !== undefined) {
      if (
        now - entry.at <= this.ttlMs &&
        entry.projectId === row.project_id &&
        entry.environment === row.environment &&
        entry.credentialsEnc.equals(row.credentials_enc) &&
        sameBytes(entry.refreshTokenEnc, row.refresh_token_enc)
      ) {
        return entry.opened;
      }
      this.entries.delete(row.id);
    }
    const opened = await openAccountSecrets(this.vault, row);
    Object.freeze(opened.values);
    if (this.entries.size >= this.maxEntries) {
      // Insertion order: the first key is the oldest entry.
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(row.id, {
      projectId: row.project_id,
      environment: row.environment,
      credentialsEnc: row.credentials_enc,
      refreshTokenEnc: row.refresh_token_enc,
      opened: Object.freeze(opened),
      at: now,
    });
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
