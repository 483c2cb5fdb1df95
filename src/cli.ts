// latchkey's command line, for first setup and operations that run beside the service:
//   migrate                      run pending migrations (server mode runs them only here)
//   keys generate [id]           print a new LATCHKEY_KEYS entry
//   keys status                  how many data keys each key-encryption key still wraps
//   keys rotate                  re-wrap data keys under the active KEK (online, batched)
//   keys reseal                  re-seal legacy values bound to project and environment (online, batched)
//   projects create <name> | projects list
//   clients create <project_id> [--name N] [--scopes "a b"] [--environment development|production]
//                                | clients list <project_id>
//   setup [name]                 a project and a client in one go; prints the secret once
// With the embedded database the service must be stopped (PGlite is single-process).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient, createProject, listAllProjects, listClients } from './admin/admin.service.ts';
import { ConfigError, loadConfig } from './config.ts';
import { generateKeyringEntry } from './crypto/keyring.ts';
import { openDatabase } from './db/connect.ts';
import type { EnvironmentName } from './db/types.ts';
import { migrateToLatest } from './db/migrator.ts';
import { createLogger } from './http/logger.ts';
import { keyStatus, rewrapDataKeys } from './keys/rotation.ts';
import { Vault } from './keys/vault.ts';
import { resealLegacyValues } from './reseal/reseal.ts';
import { prepareRuntime } from './runtime.ts';

const USAGE = `usage: latchkey <command>
  migrate
  keys generate [id] | keys status | keys rotate | keys reseal
  projects create <name> | projects list
  clients create <project_id> [--name NAME] [--scopes "SCOPE ..."] [--environment development|production] | clients list <project_id>
  setup [project name]`;

/** Where a run reads its configuration and writes its output: the process's own, or a test's. */
export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  stderr(text: string): void;
}

const PROCESS_IO: CliIo = {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs one command; resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  try {
    await main(argv, io);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) io.stderr(`${err.message}\n${USAGE}\n`);
    else if (err instanceof ConfigError || err instanceof Error) io.stderr(`latchkey: ${err.message}\n`);
    else throw err;
    return 1;
  }
}

async function main(argv: readonly string[], io: CliIo): Promise<void> {
  const print = (value: unknown): void => io.stdout(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, environment: { type: 'string' }, 'batch-size': { type: 'string' } },
  });
  const [command, sub, arg] = positionals;
  if (command === 'keys' && sub === 'generate') return print(generateKeyringEntry(arg ?? `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`));

  const batchSize = values['batch-size'] === undefined ? 500 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new UsageError('--batch-size must be a whole number from 1 to 10000');

  const config = loadConfig(io.env);
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);

  if (command === 'migrate') {
    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
    try {
      const result = await migrateToLatest(database.db);
      const applied = (result.results ?? []).map((r) => r.migrationName);
      return print(applied.length === 0 ? 'migrations: up to date' : `migrations applied: ${applied.join(', ')}`);
    } finally {
      await database.close();
    }
  }

  const runtime = await prepareRuntime(config, logger, { migrate: true });
  const db = runtime.database.db;
  try {
    switch (`${command} ${sub ?? ''}`.trim()) {
      case 'keys status':
        return print(await keyStatus(db, runtime.keyring));
      case 'keys rotate': {
        const result = await rewrapDataKeys(db, runtime.keyring, batchSize);
        print(`re-wrapped ${result.rewrapped} data keys under "${runtime.keyring.activeId}" in ${result.batches} batches`);
        return print(await keyStatus(db, runtime.keyring));
      }
      case 'keys reseal': {
        const result = await resealLegacyValues({ db, vault: new Vault(db, runtime.keyring), logger }, batchSize);
        return print(result);
      }
      case 'projects create':
        if (arg === undefined) throw new UsageError('projects create needs a name');
        return print(await createProject(db, arg));
      case 'projects list':
        return print(await listAllProjects(db));
      case 'clients create':
        if (arg === undefined) throw new UsageError('clients create needs a project id');
        return print(
          await createClient(db, arg, {
            name: values.name,
            scopes: values.scopes?.split(' ').filter(Boolean),
            environment: cliEnvironment(values.environment),
          }),
        );
      case 'clients list':
        if (arg === undefined) throw new UsageError('clients list needs a project id');
        return print(await listClients(db, arg));
      default:
        if (command === 'setup') {
          const project = await createProject(db, sub ?? 'default');
          const client = await createClient(db, project.id, { name: 'setup' });
          return print({ project_id: project.id, client_id: client.client_id, client_secret: client.client_secret, note: 'the secret is shown only now' });
        }
        throw new UsageError(command === undefined ? 'no command given' : `unknown command: ${positionals.join(' ')}`);
    }
  } finally {
    await runtime.database.close();
  }
}

class UsageError extends Error {}

function cliEnvironment(raw: string | undefined): EnvironmentName | undefined {
  if (raw === undefined) return undefined;
  if (raw === 'development' || raw === 'production') return raw;
  throw new UsageError('--environment must be development or production');
}

// Run as a program (node dist/src/cli.js, tsx src/cli.ts), not when a test imports runCli.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runCli(process.argv.slice(2));
}
