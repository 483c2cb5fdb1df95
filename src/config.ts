// The one place that reads process.env. Every value is parsed and checked once at start; a bad
// value stops the start with a message naming the variable (never echoing a secret value).
import path from 'node:path';

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
    refreshConcurrency: readInteger(env, 'LATCHKEY_REFRESH_CONCURRENCY', 16, 1, 256),
  };
  if (mode === 'production' && config.keys === undefined) {
    throw new ConfigError('LATCHKEY_KEYS', 'is required when NODE_ENV=production');
  }
  if (mode === 'production' && !publicUrl.startsWith('https://')) {
    // Cookies, redirect_uri and Connect Links all derive from it; providers reject http callbacks.
    throw new ConfigError('PUBLIC_URL', 'must be an https URL when NODE_ENV=production');
  }
  if (mode === 'production' && config.insecureLoopback) {
    throw new ConfigError('LATCHKEY_INSECURE_LOOPBACK', 'must not be set when NODE_ENV=production');
  }
  return Object.freeze(config);
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

function readAdminToken(env: Env): string | undefined {
  const raw = readString(env, 'LATCHKEY_ADMIN_TOKEN');
  if (raw !== undefined && raw.length < 32) throw new ConfigError('LATCHKEY_ADMIN_TOKEN', 'must be at least 32 characters');
  return raw;
}
