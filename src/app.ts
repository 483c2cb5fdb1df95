// Builds the Fastify app: every plugin and route, registered here in order. server.ts starts it;
// tests build it and call app.inject or listen on 127.0.0.1:0.
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { RecentCredentials } from './accounts/account-secrets.ts';
import { AccountUsage } from './accounts/account-usage.ts';
import { credentialFieldNames } from './accounts/credential-fields.ts';
import { accountsRoutes } from './accounts/accounts.routes.ts';
import { revokeAccountsOfUser, type AccountsDeps } from './accounts/accounts.service.ts';
import { adminPlugin } from './admin/admin.plugin.ts';
import { AppViews } from './apps/app-view.ts';
import { appsRoutes } from './apps/apps.routes.ts';
import { BrandIcons } from './apps/brand-icons.ts';
import { AccessTokenVerifier } from './auth/access-tokens.ts';
import { AuditLog } from './audit/audit-log.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { oauthTokenRoutes, requestedClientId } from './auth/oauth-token.routes.ts';
import { SecretVerificationPool } from './crypto/passwords.ts';
import { limitHook, registerRateLimits } from './http/rate-limit.ts';
import { codeTemplateRoutes } from './code-templates/code-templates.routes.ts';
import { secretsRoutes } from './secrets/secrets.routes.ts';
import { createAccountCheckJob, type AccountCheckJob, type AccountCheckOptions } from './account-checks/account-check-job.ts';
import { accountCheckRoutes } from './account-checks/account-checks.routes.ts';
import { connectTokenRoutes, connectTokenUserKey } from './connect/connect-tokens.routes.ts';
import { connectPageRoutes } from './connect/connect-pages.routes.ts';
import { accountsCreateRoutes } from './connect/accounts-create.routes.ts';
import { oauthAppRoutes } from './oauth-apps/oauth-apps.routes.ts';
import { RecentOAuthClients } from './oauth-apps/oauth-apps.service.ts';
import { userRoutes } from './users/users.routes.ts';
import { projectRoutes } from './projects/projects.routes.ts';
import { createProxyMetrics } from './proxy/proxy-metrics.ts';
import { proxyRoutes } from './proxy/proxy.routes.ts';
import { PROXY_DEFAULTS, type ProxySettings } from './proxy/proxy.service.ts';
import { webhookDeliveryJob } from './webhooks/delivery.ts';
import type { Config } from './config.ts';
import type { Keyring } from './crypto/keyring.ts';
import type { DatabaseHandle } from './db/connect.ts';
import { registerErrorHandling, sendClientError, sendFrameworkError } from './http/error-handler.ts';
import { registerHealth } from './http/health.ts';
import { registerHome } from './http/home.ts';
import { OneLinePerRequest, lazyRequestLogger } from './http/logger.ts';
import { createMetricsRegistry, registerMetrics } from './http/metrics.ts';
import { registerOpenApi } from './http/openapi.ts';
import { createSchemaCompilers, type SchemaCompilers } from './http/schema-compilers.ts';
import { registerStringSafety } from './http/string-safety.ts';
import { Vault } from './keys/vault.ts';
import { sdkFrontendRoutes } from './sdk-frontend/sdk.routes.ts';
import { brandingRoutes } from './branding/branding.routes.ts';
import { unsupportedResourceAnswer } from './unsupported/unsupported-resources.ts';
import { createBackgroundRefresher, type BackgroundRefresherOptions, type TokenRefresherJob } from './refresh/background-refresher.ts';
import { CredentialRefresher, type RefreshTuning } from './refresh/refresher.ts';
import { REVOKE_TIMEOUT_MS, revokeAccountAtProvider } from './refresh/revoke-account.ts';
import type { AppRegistry } from './registry/registry.ts';
import type { BackgroundJob } from './jobs.ts';
import { createEgressGuard, type EgressGuard } from './egress/egress-guard.ts';
import { createResealJob, type ResealJob, type ResealOptions } from './reseal/reseal.ts';
import { createHousekeepingJob, type HousekeepingJob, type HousekeepingOptions } from './housekeeping/housekeeping.ts';
import type { HostResolver } from './egress/resolver.ts';

/**
 * Settings a deployment never changes but a test (or an operator experimenting) may: the
 * refresh engine's timings, the revocation deadline, and the clock the domain reads time from.
 */
export interface AppTuning {
  readonly refresh?: Partial<RefreshTuning> | undefined;
  readonly background?: Partial<BackgroundRefresherOptions> | undefined;
  readonly revokeTimeoutMs?: number | undefined;
  readonly housekeeping?: Partial<HousekeepingOptions> | undefined;
  readonly reseal?: Partial<ResealOptions> | undefined;
  /** How long an audit entry may wait in the buffer before a batch is written. */
  readonly auditFlushIntervalMs?: number | undefined;
  /** The Connect proxy's deadlines and body caps (tests of a hanging or huge upstream). */
  readonly proxy?: Partial<ProxySettings> | undefined;
  /** How long last_used_at notes wait before their batched write. */
  readonly accountUsageFlushIntervalMs?: number | undefined;
  /** The scheduled checks of key-based accounts (batch, concurrency, tick). */
  readonly accountChecks?: Partial<AccountCheckOptions> | undefined;
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
  /** Route schema compilers shared by several apps in one process (tests); default: this app's own. */
  readonly schemaCompilers?: SchemaCompilers;
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
  /** The housekeeping job among the jobs (expired connect tokens, OAuth states, access tokens). */
  readonly housekeeping: HousekeepingJob;
  /** The online migration of legacy sealed values among the jobs (a pass can be run now). */
  readonly reseal: ResealJob;
  /** The key-account health check among the jobs: a round can also be run now (operators, tests). */
  readonly accountChecks: AccountCheckJob;
  /** Batched, coarse accounts.last_used_at writes (flushed on close). */
  readonly accountUsage: AccountUsage;
  /** Flags readiness down so load balancers drain this replica before it closes. */
  beginShutdown(): void;
  /** /metrics on a listener of its own when LATCHKEY_METRICS_PORT is set (server.ts listens; closed with the server). */
  readonly metricsServer: FastifyInstance | undefined;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(deps: AppDependencies): Promise<App> {
  const { config, database, keyring } = deps;
  const db = database.db;
  let shuttingDown = false;

  const server = Fastify({
    ...(deps.logger === undefined
      ? { logger: false }
      : { loggerInstance: deps.logger, logController: new OneLinePerRequest(deps.logger), childLoggerFactory: lazyRequestLogger }),
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    // 8 KiB: the proxy's url_64 carries a whole upstream URL in base64 (Node caps the request line at 16 KiB anyway).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 8192 },
    frameworkErrors: sendFrameworkError,
    clientErrorHandler: sendClientError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    schemaController: { compilersFactory: deps.schemaCompilers ?? createSchemaCompilers() },
  }).withTypeProvider<TypeBoxTypeProvider>();

  server.decorateRequest('principal', null);
  server.decorateRequest('environment', 'production');
  // A callback hook, not an async one: no promise per request for a header.
  server.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });

  // Pipedream resources latchkey does not serve answer 501 instead of 404 (auth is built below).
  registerErrorHandling(server, { notFound: (request, reply) => unsupportedAnswer(request, reply) });
  registerStringSafety(server);
  await server.register(formbody, { bodyLimit: BODY_LIMIT_BYTES });
  await registerOpenApi(server);
  const metrics = createMetricsRegistry();
  const metricsServer = registerMetrics(server, metrics, { mode: config.mode, token: config.metricsToken, port: config.metricsPort });
  registerHome(server);
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
  // Like the audit log, on every replica that serves reads; closing writes what is noted.
  const usageFlushIntervalMs = deps.tuning?.accountUsageFlushIntervalMs;
  const accountUsage = new AccountUsage(db, {
    now,
    logger: server.log,
    ...(usageFlushIntervalMs === undefined ? {} : { flushIntervalMs: usageFlushIntervalMs }),
  });
  server.addHook('onClose', async () => accountUsage.stop());
  const auth = createAuthenticator(new AccessTokenVerifier(db, () => now().getTime()), config.adminToken);
  const unsupportedAnswer = unsupportedResourceAnswer(auth.requireClient());
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
    egress,
    logger: server.log,
    audit: auditLog,
    tuning: deps.tuning?.refresh,
    now,
  });
  const revokeDeps = { db, vault, registry: deps.registry, egress, logger: server.log, revokeTimeoutMs: deps.tuning?.revokeTimeoutMs ?? REVOKE_TIMEOUT_MS };
  const accounts: AccountsDeps = {
    db,
    registry: deps.registry,
    appViews,
    credentials: new RecentCredentials(vault, undefined, undefined, () => now().getTime()),
    refresh: (row) => refresher.ensureFresh(row),
    refreshRejected: (row) => refresher.refreshRejected(row),
    revoke: (row) => revokeAccountAtProvider(revokeDeps, row),
    now,
  };
  const tokenRefresher = createBackgroundRefresher(
    { db, refresher, logger: server.log },
    { concurrency: config.refreshConcurrency, ...deps.tuning?.background },
  );
  const housekeeping = createHousekeepingJob({ db, logger: server.log, now }, deps.tuning?.housekeeping);
  const reseal = createResealJob({ db, vault, logger: server.log }, deps.tuning?.reseal);
  const jobs: BackgroundJob[] = [tokenRefresher, webhookDeliveryJob({ db, vault, egress, logger: server.log }), housekeeping, reseal];
  // OAuth 1.0a accounts: the proxy and the account checks sign with the OAuth app's consumer secret.
  const oauthClients = new RecentOAuthClients(db, vault);
  const accountChecks = createAccountCheckJob(
    { db, accounts, now, logger: server.log, egress, oauthClients },
    { intervalSeconds: config.accountCheckIntervalSeconds, ...deps.tuning?.accountChecks },
  );
  if (config.accountCheckIntervalSeconds > 0) jobs.push(accountChecks);

  await registerRateLimits(server);
  const tokenLimits = {
    perAddress: limitHook(server, { name: 'token-per-address', perMinute: config.tokenRateLimit.perAddress, keyOf: (request) => request.ip }),
    perClient: limitHook(server, { name: 'token-per-client', perMinute: config.tokenRateLimit.perClient, keyOf: requestedClientId }),
  };
  await server.register(oauthTokenRoutes({ db, now, secrets: new SecretVerificationPool(config.argon2), limits: tokenLimits }));
  await server.register(
    adminPlugin({
      db,
      auth,
      auditLog,
      keyring,
      connect: connectTokens,
      forceRefresh: (row) => refresher.forceRefresh(row),
      credentialFields: (row) => credentialFieldNames(accounts.credentials, row, deps.registry.get(row.app_slug)),
      now,
    }),
  );
  const perUserLimit = limitHook(server, { name: 'connect-tokens-per-user', perMinute: config.connectTokensPerUserPerMinute, keyOf: connectTokenUserKey });
  await server.register(connectTokenRoutes({ ...connectTokens, auth, perUserLimit }));
  await server.register(userRoutes({ db, auth, auditLog, revokeUserAccounts: (_db, user) => revokeAccountsOfUser(accounts, user.id) }));
  await server.register(accountsRoutes({ ...accounts, auth, auditLog, usage: accountUsage }));
  await server.register(accountCheckRoutes({ db, accounts, now, auth, auditLog, egress, oauthClients }));
  await server.register(appsRoutes({ registry: deps.registry, auth, appViews, brandIcons: new BrandIcons() }));
  await server.register(secretsRoutes({ db, vault, auth, auditLog }));
  await server.register(codeTemplateRoutes({ db, registry: deps.registry, auth, publicUrl: config.publicUrl }));
  await server.register(oauthAppRoutes({ db, auth, auditLog, vault, registry: deps.registry, publicUrl: config.publicUrl }));
  await server.register(projectRoutes({ db, auth, auditLog, vault, registry: deps.registry, egress }));
  const connectFlow = { db, vault, registry: deps.registry, publicUrl: config.publicUrl, audit: auditLog, logger: server.log, egress, now };
  await server.register(connectPageRoutes(connectFlow));
  await server.register(accountsCreateRoutes({ ...connectFlow, accounts, auth }));
  await server.register(sdkFrontendRoutes());
  await server.register(brandingRoutes({ db, auth, auditLog }));
  await server.register(
    proxyRoutes({
      accounts,
      egress,
      oauthClients,
      settings: { ...PROXY_DEFAULTS, ...deps.tuning?.proxy },
      auth,
      auditLog,
      metrics: createProxyMetrics(metrics),
      rateLimit: { limit: config.proxyRateLimit, windowSeconds: config.proxyRateWindowSeconds },
      now,
    }),
  );

  return {
    server,
    vault,
    auditLog,
    egress,
    jobs,
    tokenRefresher,
    metricsServer,
    housekeeping,
    reseal,
    accountChecks,
    accountUsage,
    beginShutdown: () => {
      shuttingDown = true;
    },
  };
}
