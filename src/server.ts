// Starts latchkey: config → runtime (keys, database) → app → listen, and drains on SIGTERM/SIGINT.
import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { KeyringError } from './crypto/keyring.ts';
import { MissingKeyError } from './crypto/envelope.ts';
import { EmbeddedDatabaseLockedError } from './db/embedded-lock.ts';
import { createLogger } from './http/logger.ts';
import { RegistryError } from './registry/loader.ts';
import { NO_ADMIN_TOKEN_WARNING, StartupError, prepareRuntime, startupBanner } from './runtime.ts';

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
    if (
      err instanceof KeyringError ||
      err instanceof MissingKeyError ||
      err instanceof StartupError ||
      err instanceof RegistryError ||
      err instanceof EmbeddedDatabaseLockedError
    )
      return fail(`latchkey: cannot start: ${err.message}`);
    throw err;
  }
  if (runtime.config.adminToken === undefined) logger.warn(NO_ADMIN_TOKEN_WARNING);
  const app = await buildApp({ ...runtime, logger });
  await app.server.listen({ port: runtime.config.port, host: runtime.config.host });
  if (app.metricsServer !== undefined && runtime.config.metricsPort !== undefined) {
    await app.metricsServer.listen({ port: runtime.config.metricsPort, host: runtime.config.host });
  }
  if (runtime.config.backgroundJobs) for (const job of app.jobs) job.start();
  process.stdout.write(startupBanner(runtime.config, runtime.database.kind, runtime.adminTokenFile));

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

function fail(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}

await main();
