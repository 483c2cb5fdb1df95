// The one place that reads process.env. Every value is parsed and checked once at start; a bad
// value stops the start with a message naming the variable (never echoing a secret value).
import path from 'node:path';
import { weakKeyringEntries } from './crypto/keyring.ts';
import { weakTokenReason } from './crypto/secret-strength.ts';

export type DeploymentMode = 'development' | 'production';

export interface Config {
  readonly mode: DeploymentMode;
  readonly port: number;
  readonly host: string;
  /** Origin the service is reached at, without a trailing slash (redirect_uri, Connect Links). */
  readonly publicUrl: string;
  /** PostgreSQL connection string; undefined selects the embedded PGlite database. */
  readonly databaseUrl: string | undefined;
  readonly databasePoolSize: number;
  readonly dataDir: string;
  /** Raw `LATCHKEY_KEYS`; parsed by the keyring so key material stays inside crypto/. */
  readonly keys: string | undefined;
  readonly adminToken: string | undefined;
  readonly appRegistryDirs: readonly string[];
  readonly insecureLoopback: boolean;
  readonly logLevel: string;
  /** Background jobs (refresher, webhook delivery) run in this process. */
  readonly backgroundJobs: boolean;
  /** The bearer /metrics requires (LATCHKEY_METRICS_TOKEN), wherever it is served. */
  readonly metricsToken: string | undefined;
  /** A listener of its own for /metrics (LATCHKEY_METRICS_PORT, on HOST); the service port then has none. */
  readonly metricsPort: number | undefined;
  /** How much argon2 work /v1/oauth/token may do at once, and how much may wait (src/auth/secret-verifier.ts). */
  readonly argon2: { readonly concurrency: number; readonly queue: number };
  /** Token requests per minute per client id and per source address, on each replica (@fastify/rate-limit). */
  readonly tokenRateLimit: { readonly perClient: number; readonly perAddress: number };
  /** Connect tokens minted per minute per external user (Pipedream's documented 100), on each replica. */
  readonly connectTokensPerUserPerMinute: number;
  /** LATCHKEY_ALLOW_EMBEDDED_DATABASE: production on the embedded PGlite database, chosen on purpose. */
  readonly allowEmbeddedDatabase: boolean;
  /** Connect proxy calls one project may make per window, counted per replica (Pipedream: 1,000 per 5 min). */
  readonly proxyRateLimit: number;
  readonly proxyRateWindowSeconds: number;
  /** How often each key-based account's test request runs (0: never). */
  readonly accountCheckIntervalSeconds: number;
  /** Token refreshes the background refresher keeps in flight at once, per replica. */
  readonly refreshConcurrency: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const mode = readMode(env);
  const port = readInteger(env, 'PORT', 3000, 0, 65535);
  const host = readString(env, 'HOST') ?? '127.0.0.1';
  const publicUrl = readPublicUrl(env, host, port);
  const databaseUrl = readDatabaseUrl(env);
  const config: Config = {
    mode,
    port,
    host,
    publicUrl,
    databaseUrl,
    databasePoolSize: readInteger(env, 'DATABASE_POOL_SIZE', 10, 1, 500),
    dataDir: path.resolve(readString(env, 'LATCHKEY_DATA_DIR') ?? '.latchkey'),
    keys: readString(env, 'LATCHKEY_KEYS'),
    adminToken: readAdminToken(env),
    appRegistryDirs: Object.freeze(readList(env, 'LATCHKEY_APP_REGISTRY_DIRS').map((dir) => path.resolve(dir))),
    insecureLoopback: readBoolean(env, 'LATCHKEY_INSECURE_LOOPBACK', false),
    logLevel: readEnum(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    backgroundJobs: readBoolean(env, 'LATCHKEY_BACKGROUND_JOBS', true),
    metricsToken: readSecretSetting(env, 'LATCHKEY_METRICS_TOKEN'),
    metricsPort: readOptionalInteger(env, 'LATCHKEY_METRICS_PORT', 1, 65535),
    argon2: Object.freeze({
      concurrency: readInteger(env, 'LATCHKEY_ARGON2_CONCURRENCY', 1, 1, 64),
      queue: readInteger(env, 'LATCHKEY_ARGON2_QUEUE', 32, 0, 10_000),
    }),
    tokenRateLimit: Object.freeze({
      perClient: readInteger(env, 'LATCHKEY_TOKEN_RATE_LIMIT_PER_CLIENT', 60, 1, 1_000_000),
      perAddress: readInteger(env, 'LATCHKEY_TOKEN_RATE_LIMIT_PER_ADDRESS', 120, 1, 1_000_000),
    }),
    connectTokensPerUserPerMinute: readInteger(env, 'LATCHKEY_CONNECT_TOKENS_PER_USER_PER_MINUTE', 100, 1, 1_000_000),
    allowEmbeddedDatabase: readBoolean(env, 'LATCHKEY_ALLOW_EMBEDDED_DATABASE', false),
    proxyRateLimit: readInteger(env, 'LATCHKEY_PROXY_RATE_LIMIT', 1000, 1, 10_000_000),
    proxyRateWindowSeconds: readInteger(env, 'LATCHKEY_PROXY_RATE_WINDOW_SECONDS', 300, 1, 86_400),
    accountCheckIntervalSeconds: readInteger(env, 'LATCHKEY_ACCOUNT_CHECK_INTERVAL_SECONDS', 86_400, 0, 30 * 86_400),
    refreshConcurrency: readInteger(env, 'LATCHKEY_REFRESH_CONCURRENCY', 16, 1, 256),
  };
  if (mode === 'production' && config.keys === undefined) {
    throw new ConfigError('LATCHKEY_KEYS', 'is required when NODE_ENV=production');
  }
  if (mode === 'production' && !publicUrl.startsWith('https://')) {
    // Cookies, redirect_uri and Connect Links all derive from it; providers reject http callbacks.
    throw new ConfigError('PUBLIC_URL', 'must be an https URL when NODE_ENV=production');
  }
  if (config.metricsPort !== undefined && config.metricsPort === port) {
    throw new ConfigError('LATCHKEY_METRICS_PORT', 'must differ from PORT (it is a listener of its own)');
  }
  if (mode === 'production' && config.insecureLoopback) {
    throw new ConfigError('LATCHKEY_INSECURE_LOOPBACK', 'must not be set when NODE_ENV=production');
  }
  if (mode === 'production') refuseWeakProductionSettings(config);
  return Object.freeze(config);
}

/**
 * Production refuses secrets that were typed rather than generated, and the embedded database
 * (one process, one disk, no backups or replicas) unless it was chosen explicitly.
 */
function refuseWeakProductionSettings(config: Config): void {
  const weakKey = config.keys === undefined ? undefined : weakKeyringEntries(config.keys)[0];
  if (weakKey !== undefined) throw new ConfigError('LATCHKEY_KEYS', `key ${weakKey.id} ${weakKey.reason}`);
  const weakToken = config.adminToken === undefined ? undefined : weakTokenReason(config.adminToken);
  if (weakToken !== undefined) throw new ConfigError('LATCHKEY_ADMIN_TOKEN', `${weakToken}: generate one with \`openssl rand -hex 32\``);
  if (config.databaseUrl === undefined && !config.allowEmbeddedDatabase) {
    throw new ConfigError(
      'DATABASE_URL',
      'is required when NODE_ENV=production (the embedded database is one process on one disk); set LATCHKEY_ALLOW_EMBEDDED_DATABASE=true to run on it anyway',
    );
  }
}

function readString(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

// A typo such as NODE_ENV=prod must not quietly start a production deployment in development
// mode (which would generate a local key file), so unknown values stop the start.
function readMode(env: Env): DeploymentMode {
  const raw = readEnum(env, 'NODE_ENV', ['production', 'development', 'test'], 'development');
  return raw === 'production' ? 'production' : 'development';
}

function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, 'must be a whole number');
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
  return value;
}

function readOptionalInteger(env: Env, name: string, min: number, max: number): number | undefined {
  return readString(env, name) === undefined ? undefined : readInteger(env, name, 0, min, max);
}

function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = readString(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, 'must be true or false');
}

function readEnum(env: Env, name: string, allowed: readonly string[], fallback: string): string {
  const raw = readString(env, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}`);
  return raw;
}

function readList(env: Env, name: string): string[] {
  const raw = readString(env, name);
  if (raw === undefined) return [];
  return raw
    .split(path.delimiter === ';' ? /[;,]/ : /[:,]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function readPublicUrl(env: Env, host: string, port: number): string {
  const raw = readString(env, 'PUBLIC_URL');
  if (raw === undefined) {
    const reachableHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `http://${reachableHost.includes(':') ? `[${reachableHost}]` : reachableHost}:${port}`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('PUBLIC_URL', 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('PUBLIC_URL', 'must be an http(s) URL');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError('PUBLIC_URL', 'must not contain credentials, a query or a fragment');
  }
  return url.toString().replace(/\/+$/, '');
}

function readDatabaseUrl(env: Env): string | undefined {
  const raw = readString(env, 'DATABASE_URL');
  if (raw === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//.test(raw)) throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  return raw;
}

/** A bearer an operator chose: long enough that it cannot be guessed (compared by digest). */
function readSecretSetting(env: Env, name: string): string | undefined {
  const raw = readString(env, name);
  if (raw !== undefined && raw.length < 32) throw new ConfigError(name, 'must be at least 32 characters');
  return raw;
}

function readAdminToken(env: Env): string | undefined {
  const raw = readString(env, 'LATCHKEY_ADMIN_TOKEN');
  if (raw !== undefined && raw.length < 32) throw new ConfigError('LATCHKEY_ADMIN_TOKEN', 'must be at least 32 characters');
  return raw;
}
