// Opening an account's sealed credentials. On the hot path the project's data key is cached, so
// this is two AES-GCM decrypts and no query; the first read in a process loads the key once.
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

export async function openAccountRefreshToken(vault: Vault, row: AccountRow): Promise<string | null> {
  return row.refresh_token_enc === null ? null : (await openSealed(vault, refreshTokenContext(row.id), row.refresh_token_enc)).toString('utf8');
}
