// Development convenience: with the embedded database and no LATCHKEY_KEYS, latchkey keeps a
// generated keyring in LATCHKEY_DATA_DIR/keyring (mode 0600) next to the data it protects.
// That is fine for a laptop and useless as protection, so it is refused in production and with
// a shared PostgreSQL (replicas could not share the file), and announced loudly.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.ts';
import { generateKeyringEntry, parseKeyring, KeyringError, type Keyring } from '../crypto/keyring.ts';

export interface LoadedKeyring {
  keyring: Keyring;
  /** Set when the keyring came from (or was written to) a local file. */
  localFile?: string;
  created: boolean;
}

export async function loadKeyring(config: Config): Promise<LoadedKeyring> {
  if (config.keys !== undefined) return { keyring: parseKeyring(config.keys), created: false };
  if (config.mode === 'production') throw new KeyringError('LATCHKEY_KEYS: is required when NODE_ENV=production');
  if (config.databaseUrl !== undefined) throw new KeyringError('LATCHKEY_KEYS: is required with DATABASE_URL (every replica needs the same keys)');
  const file = path.join(config.dataDir, 'keyring');
  const existing = await readOptional(file);
  if (existing !== undefined) return { keyring: parseKeyring(existing), localFile: file, created: false };
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const entry = generateKeyringEntry('local1');
  await writeFile(file, `${entry}\n`, { mode: 0o600, flag: 'wx' });
  return { keyring: parseKeyring(entry), localFile: file, created: true };
}

/** In development with the embedded database, an admin token is generated once and kept in a 0600 file. */
export async function loadOrCreateLocalSecret(config: Config, name: string, create: () => string): Promise<{ value: string; file: string; created: boolean }> {
  const file = path.join(config.dataDir, name);
  const existing = await readOptional(file);
  if (existing !== undefined) return { value: existing, file, created: false };
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const value = create();
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, file, created: true };
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
