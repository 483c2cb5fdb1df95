// Everything server.ts and the CLI need before the app can be built: config-derived keyring,
// database (migrated at start only in embedded mode: replicas on a shared PostgreSQL must not
// race, so there `npm run migrate` runs once per deploy), and the checks that refuse to start.
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import { TOKEN_PREFIXES, mintToken } from './crypto/tokens.ts';
import { openDatabase, type DatabaseHandle } from './db/connect.ts';
import { migrateToLatest, pendingMigrations } from './db/migrator.ts';
import { loadKeyring, loadOrCreateLocalSecret } from './keys/local-key-file.ts';
import { Vault } from './keys/vault.ts';
import { BUILTIN_REGISTRY_DIR, loadRegistry } from './registry/loader.ts';
import type { AppRegistry } from './registry/registry.ts';

export interface Runtime {
  config: Config;
  keyring: Keyring;
  database: DatabaseHandle;
  registry: AppRegistry;
  /** Set when the admin token was generated into (or read from) the data dir. */
  adminTokenFile: string | undefined;
}

export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * What the server logs at start without an admin token (one is generated only for development
 * on the embedded database; elsewhere an unset token is easy to miss until an admin call 401s).
 */
export const NO_ADMIN_TOKEN_WARNING =
  'NO ADMIN TOKEN: LATCHKEY_ADMIN_TOKEN is not set, so the admin API (/v1/admin) accepts only admin-scoped API clients. ' +
  'Set LATCHKEY_ADMIN_TOKEN (openssl rand -hex 32), or create a project and client with the CLI: npm run cli -- setup <name>';

/**
 * What the server prints once it listens: where it is, and how to make a first project. The curl
 * lines name the admin token only when there is one; otherwise the banner says there is none.
 */
export function startupBanner(
  config: Pick<Config, 'publicUrl' | 'dataDir' | 'adminToken'>,
  databaseKind: 'embedded' | 'postgres',
  adminTokenFile: string | undefined,
): string {
  const lines = [
    '',
    `latchkey is listening on ${config.publicUrl} (${databaseKind === 'embedded' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})`,
    `  API docs:        ${config.publicUrl}/docs`,
  ];
  if (config.adminToken === undefined) {
    lines.push(
      '  Admin token:     none (LATCHKEY_ADMIN_TOKEN is not set): the admin API accepts only admin-scoped API clients',
      `  First project:   npm run cli -- setup demo${databaseKind === 'embedded' ? ' (with the server stopped)' : ''}, or set LATCHKEY_ADMIN_TOKEN and restart`,
    );
  } else {
    const adminHint = adminTokenFile === undefined ? '$LATCHKEY_ADMIN_TOKEN' : `$(cat ${adminTokenFile})`;
    lines.push(
      '  First project:   curl -s -X POST ' +
        `${config.publicUrl}/v1/admin/projects -H "authorization: Bearer ${adminHint}" -H 'content-type: application/json' -d '{"name":"demo"}'`,
      '  First client:    curl -s -X POST ' +
        `${config.publicUrl}/v1/admin/projects/<project_id>/clients -H "authorization: Bearer ${adminHint}" -H 'content-type: application/json' -d '{}'`,
      '  (or, with the server stopped: npm run cli -- setup demo)',
    );
  }
  lines.push('');
  return lines.join('\n');
}

export async function prepareRuntime(baseConfig: Config, logger: Logger, options: { migrate: boolean }): Promise<Runtime> {
  // The registry first: a broken app file should stop the start before anything is opened.
  const registry = await loadRegistry({ dirs: [BUILTIN_REGISTRY_DIR, ...baseConfig.appRegistryDirs], insecureLoopback: baseConfig.insecureLoopback });
  const loaded = await loadKeyring(baseConfig);
  if (loaded.created) {
    logger.warn(
      { file: loaded.localFile },
      'DEVELOPMENT ONLY: no LATCHKEY_KEYS given, so a key file was generated next to the embedded database. Anyone with this folder can decrypt every credential. Set LATCHKEY_KEYS for real use.',
    );
  } else if (loaded.localFile !== undefined) {
    logger.warn({ file: loaded.localFile }, 'DEVELOPMENT ONLY: using the local key file; set LATCHKEY_KEYS for real use');
  }

  let config = baseConfig;
  let adminTokenFile: string | undefined;
  if (config.adminToken === undefined && config.mode === 'development' && config.databaseUrl === undefined) {
    const admin = await loadOrCreateLocalSecret(config, 'admin-token', () => mintToken(TOKEN_PREFIXES.adminToken));
    config = Object.freeze({ ...config, adminToken: admin.value });
    adminTokenFile = admin.file;
  }

  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.databasePoolSize });
  try {
    if (database.kind === 'embedded' && options.migrate) await migrateToLatest(database.db);
    const pending = await pendingMigrations(database.db);
    if (pending.length > 0) throw new StartupError(`the database schema is behind: run \`npm run migrate\` (pending: ${pending.join(', ')})`);
    await new Vault(database.db, loaded.keyring).assertKeysAvailable();
  } catch (err) {
    await database.close();
    throw err;
  }
  return { config, keyring: loaded.keyring, database, registry, adminTokenFile };
}
