// Starts latchkey: config → runtime (keys, database) → app → listen, and drains on SIGTERM/SIGINT.
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { KeyringError } from './crypto/keyring.ts';
import { MissingKeyError } from './crypto/envelope.ts';
import { createLogger } from './http/logger.ts';
import { RegistryError } from './registry/loader.ts';
import { StartupError, prepareRuntime } from './runtime.ts';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return fail(`latchkey: configuration error: ${err.message}`);
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let runtime;
  try {
    runtime = await prepareRuntime(config, logger, { migrate: true });
  } catch (err) {
    if (err instanceof KeyringError || err instanceof MissingKeyError || err instanceof StartupError || err instanceof RegistryError)
      return fail(`latchkey: cannot start: ${err.message}`);
    throw err;
  }
  const app = await buildApp({ ...runtime, logger });
  await app.server.listen({ port: runtime.config.port, host: runtime.config.host });
  if (app.metricsServer !== undefined && runtime.config.metricsPort !== undefined) {
    await app.metricsServer.listen({ port: runtime.config.metricsPort, host: runtime.config.host });
  }
  if (runtime.config.backgroundJobs) for (const job of app.jobs) job.start();
  printBanner(runtime.config, runtime.database.kind, runtime.adminTokenFile);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests');
    app.beginShutdown();
    const force = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    await app.server.close(); // drains requests; its onClose writes the audit buffer
    await Promise.all(app.jobs.map((job) => job.stop()));
    // The jobs record audit entries too (the refresher): write what they left before the pool closes.
    await app.auditLog.stop();
    await runtime.database.close();
    clearTimeout(force);
    logger.info('stopped');
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

function printBanner(config: { publicUrl: string; dataDir: string }, kind: string, adminTokenFile: string | undefined): void {
  const adminHint = adminTokenFile === undefined ? '$LATCHKEY_ADMIN_TOKEN' : `$(cat ${adminTokenFile})`;
  process.stdout.write(
    [
      '',
      `latchkey is listening on ${config.publicUrl} (${kind === 'embedded' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})`,
      `  API docs:        ${config.publicUrl}/docs`,
      '  First project:   curl -s -X POST ' +
        `${config.publicUrl}/v1/admin/projects -H "authorization: Bearer ${adminHint}" -H 'content-type: application/json' -d '{"name":"demo"}'`,
      '  First client:    curl -s -X POST ' +
        `${config.publicUrl}/v1/admin/projects/<project_id>/clients -H "authorization: Bearer ${adminHint}" -H 'content-type: application/json' -d '{}'`,
      '  (or, with the server stopped: npm run cli -- setup demo)',
      '',
    ].join('\n'),
  );
}

function fail(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}

await main();
