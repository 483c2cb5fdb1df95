// Builds the Fastify app: every plugin and route, registered here in order. server.ts starts it;
// tests build it and call app.inject or listen on 127.0.0.1:0.
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { RecentCredentials } from './accounts/account-secrets.ts';
import { accountsRoutes } from './accounts/accounts.routes.ts';
import { revokeAccountsOfUser, type AccountsDeps } from './accounts/accounts.service.ts';
import { adminPlugin } from './admin/admin.plugin.ts';
import { AppViews } from './apps/app-view.ts';
import { appsRoutes } from './apps/apps.routes.ts';
import { AccessTokenVerifier } from './auth/access-tokens.ts';
import { AuditLog } from './audit/audit-log.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { oauthTokenRoutes } from './auth/oauth-token.routes.ts';
import { connectTokenRoutes } from './connect/connect-tokens.routes.ts';
import { connectPageRoutes } from './connect/connect-pages.routes.ts';
import { oauthAppRoutes } from './oauth-apps/oauth-apps.routes.ts';
import { userRoutes } from './users/users.routes.ts';
import { projectRoutes } from './projects/projects.routes.ts';
import { webhookDeliveryJob } from './webhooks/delivery.ts';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { DatabaseHandle } from './db/connect.ts';
import { registerErrorHandling, sendFrameworkError } from './http/error-handler.ts';
import { registerHealth } from './http/health.ts';
import { OneLinePerRequest } from './http/logger.ts';
import { createMetricsRegistry, registerMetrics } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { Vault } from './keys/vault.ts';
import { sdkFrontendRoutes } from './sdk-frontend/sdk.routes.ts';
import { createBackgroundRefresher, type BackgroundRefresherOptions, type TokenRefresherJob } from './refresh/background-refresher.ts';
import { CredentialRefresher, type RefreshTuning } from './refresh/refresher.ts';
import { REVOKE_TIMEOUT_MS, revokeAccountAtProvider } from './refresh/revoke-account.ts';
import type { AppRegistry } from './registry/registry.ts';
import type { BackgroundJob } from './jobs.ts';
import { createEgressGuard, type EgressGuard } from './egress/egress-guard.ts';
import type { HostResolver } from './egress/resolver.ts';

/**
 * Settings a deployment never changes but a test (or an operator experimenting) may: the
 * refresh engine's timings, the revocation deadline, and the clock the domain reads time from.
 */
export interface AppTuning {
  readonly refresh?: Partial<RefreshTuning> | undefined;
  readonly background?: Partial<BackgroundRefresherOptions> | undefined;
  readonly revokeTimeoutMs?: number | undefined;
  /** How long an audit entry may wait in the buffer before a batch is written. */
  readonly auditFlushIntervalMs?: number | undefined;
  readonly now?: (() => Date) | undefined;
}

export interface AppDependencies {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly keyring: Keyring;
  readonly registry: AppRegistry;
  readonly logger?: FastifyBaseLogger;
  readonly tuning?: AppTuning;
  /** How the egress guard resolves names (default: the system resolver); tests inject one. */
  readonly resolveHost?: HostResolver;
}

/** What buildApp hands back: each member a handle its caller needs, not the domain's internals. */
export interface App {
  readonly server: FastifyInstance;
  /** Seals and opens with the project data keys (the CLI's and tests' way to read what was stored). */
  readonly vault: Vault;
  /** Buffered, batched audit trail of credential reads and admin actions (flushed on close). */
  readonly auditLog: AuditLog;
  /** The one way out: every outbound request (webhooks now; token, refresh, test request, proxy). */
  readonly egress: EgressGuard;
  /** Jobs this replica runs when LATCHKEY_BACKGROUND_JOBS is on (server.ts starts them). */
  readonly jobs: readonly BackgroundJob[];
  /** The token refresher among the jobs: a round can also be run now (operators, tests). */
  readonly tokenRefresher: TokenRefresherJob;
  /** Flags readiness down so load balancers drain this replica before it closes. */
  beginShutdown(): void;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, database, keyring } = deps;
  const db = database.db;
  let shuttingDown = false;

  const server = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger, logController: new OneLinePerRequest(deps.logger) }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    frameworkErrors: sendFrameworkError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  server.decorateRequest('principal', null);
  server.decorateRequest('environment', 'production');
  // A callback hook, not an async one: no promise per request for a header.
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  registerErrorHandling(server);
  await server.register(formbody, { bodyLimit: BODY_LIMIT_BYTES });
  await registerOpenApi(server);
  const metrics = createMetricsRegistry();
  registerMetrics(server, metrics);
  registerHealth(
    server,
    () => database.ping(),
    () => shuttingDown,
  );

  const now = deps.tuning?.now ?? (() => new Date());
  const vault = new Vault(db, keyring);
  // Runs on every replica that serves requests (not a LATCHKEY_BACKGROUND_JOBS job): its timer is
  // armed only while entries are pending; closing the server writes what is buffered.
  const auditFlushIntervalMs = deps.tuning?.auditFlushIntervalMs;
  const auditLog = new AuditLog(db, {
    logger: server.log,
    metrics,
    now,
    ...(auditFlushIntervalMs === undefined ? {} : { flushIntervalMs: auditFlushIntervalMs }),
  });
  server.addHook('onClose', async () => auditLog.stop());
  const auth = createAuthenticator(new AccessTokenVerifier(db, () => now().getTime()), config.adminToken);
  const appViews = new AppViews(config.publicUrl);
  const egress = createEgressGuard({ insecureLoopback: config.insecureLoopback, resolve: deps.resolveHost });
  server.addHook('onClose', async () => egress.close());
  const connectTokens = { db, registry: deps.registry, publicUrl: config.publicUrl, insecureLoopback: config.insecureLoopback, egress, now };

  // The domain: the refresh engine above the accounts, handed to them as functions.
  const refresher = new CredentialRefresher({
    db,
    vault,
    registry: deps.registry,
    appViews,
    logger: server.log,
    audit: auditLog,
    tuning: deps.tuning?.refresh,
    now,
  });
  const revokeDeps = { db, vault, registry: deps.registry, logger: server.log, revokeTimeoutMs: deps.tuning?.revokeTimeoutMs ?? REVOKE_TIMEOUT_MS };
  const accounts: AccountsDeps = {
    db,
    registry: deps.registry,
    appViews,
    credentials: new RecentCredentials(vault, undefined, undefined, () => now().getTime()),
    refresh: (row) => refresher.ensureFresh(row),
    revoke: (row) => revokeAccountAtProvider(revokeDeps, row),
    now,
  };
  const tokenRefresher = createBackgroundRefresher(
    { db, refresher, logger: server.log },
    { concurrency: config.refreshConcurrency, ...deps.tuning?.background },
  );
  const jobs: BackgroundJob[] = [tokenRefresher, webhookDeliveryJob({ db, vault, egress, logger: server.log })];

  await server.register(oauthTokenRoutes({ db, now }));
  await server.register(adminPlugin({ db, auth, auditLog, keyring, connect: connectTokens, forceRefresh: (row) => refresher.forceRefresh(row) }));
  await server.register(connectTokenRoutes({ ...connectTokens, auth }));
  await server.register(userRoutes({ db, auth, auditLog, revokeUserAccounts: (_db, user) => revokeAccountsOfUser(accounts, user.id) }));
  await server.register(accountsRoutes({ ...accounts, auth, auditLog }));
  await server.register(appsRoutes({ registry: deps.registry, auth, appViews }));
  await server.register(oauthAppRoutes({ db, auth, auditLog, vault, registry: deps.registry, publicUrl: config.publicUrl }));
  await server.register(projectRoutes({ db, auth, auditLog, vault, registry: deps.registry, egress }));
  await server.register(connectPageRoutes({ db, vault, registry: deps.registry, publicUrl: config.publicUrl, audit: auditLog, now }));
  await server.register(sdkFrontendRoutes());

  return {
    server,
    vault,
    auditLog,
    egress,
    jobs,
    tokenRefresher,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}
