// The registry entry of the benchmark's OAuth app, written to a folder of its own that latchkey
// loads through LATCHKEY_APP_REGISTRY_DIRS, as an operator adds an app. Only the token URL
// differs between scenarios: a name that is never contacted (the fetch benchmark's tokens stay
// fresh), or the fake provider on 127.0.0.1.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCH_APP_SLUG } from './bench-accounts.ts';

export const NEVER_CONTACTED_TOKEN_URL = 'https://bench-provider.invalid/oauth/token';

/** `apiBaseUrl`: the app's api.base_url (the proxy benchmark's local upstream); none by default. */
export async function writeBenchRegistry(dir: string, tokenUrl: string, apiBaseUrl?: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entry = [
    `slug: ${BENCH_APP_SLUG}`,
    'name: Benchmark Provider',
    'auth_type: oauth',
    'oauth:',
    '  authorize_url: https://bench-provider.invalid/oauth/authorize',
    `  token_url: ${tokenUrl}`,
    '  scopes: [read]',
    '  token_auth_method: client_secret_post',
    ...(apiBaseUrl === undefined ? [] : ['api:', `  base_url: ${apiBaseUrl}`]),
    '',
  ].join('\n');
  await writeFile(path.join(dir, `${BENCH_APP_SLUG}.yaml`), entry);
  return dir;
}
