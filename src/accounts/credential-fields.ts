// The names of the credential fields an account holds: what printing `$auth` shows in the source
// documents, for the admin API. Names only; the values are opened to learn which exist and are
// dropped here.
import type { RegistryApp } from '../registry/registry.ts';
import type { AccountRow } from './account.repository.ts';
import type { RecentCredentials } from './account-secrets.ts';
import { credentialsView } from './account-view.ts';

export async function credentialFieldNames(credentials: RecentCredentials, row: AccountRow, app: RegistryApp | undefined): Promise<string[]> {
  const opened = await credentials.open(row);
  const view = credentialsView(row, opened.values, opened.refreshToken, app);
  return Object.entries(view)
    .filter(([, value]) => value !== null && value !== '')
    .map(([name]) => name)
    .sort();
}
