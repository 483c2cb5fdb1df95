// Builds the Fastify app: every plugin and route, registered here in order. server.ts starts it;
// tests build it and call app.inject or listen on 127.0.0.1:0.
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { accountsAdminRoutes } from './admin/accounts-admin.routes.ts';
import { accountsRoutes } from './accounts/accounts.routes.ts';
import { revokeUserAccountsHook } from './accounts/accounts.service.ts';
import { adminRoutes } from './admin/admin.routes.ts';
import { auditRoutes } from './admin/audit.routes.ts';
import { keysAdminRoutes } from './admin/keys-admin.routes.ts';
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
import { createMetricsRegistry, registerMetrics } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { Vault } from './keys/vault.ts';
import { sdkFrontendRoutes } from './sdk-frontend/sdk.routes.ts';
import { createBackgroundRefresher } from './refresh/background-refresher.ts';
import { CredentialRefresher } from './refresh/refresher.ts';
import type { AppRegistry } from './registry/registry.ts';
import type { BackgroundJob } from './jobs.ts';
import { createEgressGuard, type EgressGuard } from './egress/egress-guard.ts';
import type { HostResolver } from './egress/resolver.ts';

export interface AppDependencies {
  readonly config: Config;
  readonly database: DatabaseHandle;
  readonly keyring: Keyring;
  readonly registry: AppRegistry;
  readonly logger?: FastifyBaseLogger;
  /** How the egress guard resolves names (default: the system resolver); tests inject one. */
  readonly resolveHost?: HostResolver;
}

export interface App {
  readonly server: FastifyInstance;
  readonly vault: Vault;
  /** Buffered, batched audit trail of credential reads and admin actions (flushed on close). */
  readonly auditLog: AuditLog;
  /** The refresh engine: single-flight + PostgreSQL lease per account (forceRefresh, tests). */
  readonly refresher: CredentialRefresher;
  /** The one way out: every outbound request (webhooks now; token, refresh, test request, proxy). */
  readonly egress: EgressGuard;
  /** Jobs this replica runs when LATCHKEY_BACKGROUND_JOBS is on (server.ts starts them). */
  readonly jobs: readonly BackgroundJob[];
  /** Flags readiness down so load balancers drain this replica before it closes. */
  beginShutdown(): void;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, database, keyring } = deps;
  const db = database.db;
  let shuttingDown = false;

  const server = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
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
  server.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
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

  const vault = new Vault(db, keyring);
  // Runs on every replica that serves requests (not a LATCHKEY_BACKGROUND_JOBS job): its timer is
  // armed only while entries are pending; closing the server writes what is buffered.
  const auditLog = new AuditLog(db, { logger: server.log, metrics });
  server.addHook('onClose', async () => auditLog.stop());
  const auth = createAuthenticator(new AccessTokenVerifier(db), config.adminToken);
  const egress = createEgressGuard({ insecureLoopback: config.insecureLoopback, resolve: deps.resolveHost });
  server.addHook('onClose', async () => egress.close());

  const jobs: BackgroundJob[] = [];
  const refresher = new CredentialRefresher({ db, vault, registry: deps.registry, logger: server.log, audit: auditLog });
  const accountsDeps = { db, vault, registry: deps.registry, refresher, logger: server.log };
  jobs.push(createBackgroundRefresher({ db, refresher, logger: server.log }));

  await server.register(oauthTokenRoutes({ db }));
  await server.register(adminRoutes({ db, auth, auditLog }));
  await server.register(
    accountsAdminRoutes({
      db,
      auth,
      auditLog,
      connect: { db, registry: deps.registry, publicUrl: config.publicUrl, insecureLoopback: config.insecureLoopback, egress },
      forceRefresh: (accountId, projectId, environment) => refresher.forceRefresh(accountId, projectId, environment),
    }),
  );
  await server.register(auditRoutes({ db, auth, auditLog }));
  await server.register(keysAdminRoutes({ db, auth, auditLog, keyring }));
  await server.register(
    connectTokenRoutes({ db, auth, registry: deps.registry, publicUrl: config.publicUrl, insecureLoopback: config.insecureLoopback, egress }),
  );
  await server.register(userRoutes({ db, auth, auditLog, revokeUserAccounts: revokeUserAccountsHook(accountsDeps) }));
  await server.register(accountsRoutes({ ...accountsDeps, auth, auditLog }));
  await server.register(appsRoutes({ registry: deps.registry, auth, publicUrl: config.publicUrl }));
  await server.register(oauthAppRoutes({ db, auth, auditLog, vault, registry: deps.registry, publicUrl: config.publicUrl }));
  await server.register(projectRoutes({ db, auth, auditLog, vault, registry: deps.registry, egress }));
  jobs.push(webhookDeliveryJob({ db, vault, egress, logger: server.log }));
  await server.register(connectPageRoutes({ db, vault, registry: deps.registry, publicUrl: config.publicUrl, audit: auditLog }));
  await server.register(sdkFrontendRoutes());

  return {
    server,
    vault,
    auditLog,
    refresher,
    egress,
    jobs,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}
