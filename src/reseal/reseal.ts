// The online migration to sealed format 2 (associated data bound to project and environment).
// Values sealed before it (format 1: table, column and row only) stay readable, and this job
// rewrites them, so that a row moved to another project or environment no longer opens:
//   1. find a batch of rows holding a format-1 value, in key order after the last batch
//      (one pass is one scan of each table; progress is kept by the rows themselves, so a run
//      that stops anywhere resumes by running again);
//   2. open each value and seal it again under the same data key with the full binding, with no
//      lock or transaction held meanwhile (serving goes on, and nothing slow waits on a lock);
//   3. write it compare-and-set on the old bytes: a refresh, reconnect or rotation that rewrote
//      the row meanwhile already wrote format 2, and wins; any number of replicas may run this.
// A value that does not open (tampered, or sealed under a key this process lacks) is counted and
// logged by row, never retried in the same pass, and left for an operator.
// OAuth states are not migrated: they live minutes, and the housekeeping job deletes them.
import type { Kysely } from 'kysely';
import { credentialsContext, locationOf, refreshTokenContext } from '../accounts/account-secrets.ts';
import { findLegacySealedAccounts, replaceAccountSealing } from '../accounts/account.repository.ts';
import { readSealedFormat, SEALED_FORMAT_V1 } from '../crypto/envelope.ts';
import type { Database } from '../db/types.ts';
import { intervalJob, type BackgroundJob } from '../jobs.ts';
import { DecryptionError, MissingKeyError, type SealContext, type Vault } from '../keys/vault.ts';
import { findLegacySealedOAuthApps, replaceOAuthAppSealing } from '../oauth-apps/oauth-apps.repository.ts';
import { clientSecretContext } from '../oauth-apps/oauth-apps.service.ts';
import { findLegacySealedEnvironments, replaceSigningKeySealing, type EnvironmentKey } from '../webhooks/environments.repository.ts';
import { signingKeyContext } from '../webhooks/signing-key.ts';

export interface ResealDeps {
  readonly db: Kysely<Database>;
  readonly vault: Vault;
  readonly logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; error(obj: object, msg: string): void } | undefined;
}

export interface ResealOptions {
  batchSize: number;
  intervalMs: number;
}

export const DEFAULT_RESEAL_OPTIONS: ResealOptions = { batchSize: 500, intervalMs: 60_000 };

export interface ResealReport {
  /** Rows rewritten in format 2, per table. */
  accounts: number;
  oauthApps: number;
  environments: number;
  /** Rows a concurrent write had already rewritten (nothing to do). */
  raced: number;
  /** Rows whose value did not open: left as they are, and logged. */
  unreadable: number;
  batches: number;
}

type Outcome = 'resealed' | 'raced' | 'unreadable';

/** The value sealed again with the full binding, or null when it already is of format 2. */
async function resealValue(vault: Vault, context: SealContext, sealed: Buffer | null): Promise<Buffer | null> {
  if (sealed === null || readSealedFormat(sealed) !== SEALED_FORMAT_V1) return null;
  const plaintext = await vault.open(context, sealed);
  try {
    return await vault.seal(context, plaintext);
  } finally {
    plaintext.fill(0);
  }
}

/** Runs one row's step 2 and 3; a value that does not open is reported, not thrown. */
async function resealRow(deps: ResealDeps, where: Record<string, string>, work: () => Promise<boolean>): Promise<Outcome> {
  try {
    return (await work()) ? 'resealed' : 'raced';
  } catch (err) {
    if (!(err instanceof DecryptionError || err instanceof MissingKeyError)) throw err;
    deps.logger?.warn({ ...where, reason: err.message }, 'a sealed value could not be opened to re-seal it; it is left as it is');
    return 'unreadable';
  }
}

function count(report: ResealReport, table: 'accounts' | 'oauthApps' | 'environments', outcome: Outcome): void {
  if (outcome === 'resealed') report[table] += 1;
  else report[outcome] += 1;
}

/** One pass over every table: every format-1 value found is rewritten (or reported). */
export async function resealLegacyValues(deps: ResealDeps, batchSize = DEFAULT_RESEAL_OPTIONS.batchSize): Promise<ResealReport> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive whole number');
  const report: ResealReport = { accounts: 0, oauthApps: 0, environments: 0, raced: 0, unreadable: 0, batches: 0 };

  for (let after = ''; ;) {
    const rows = await findLegacySealedAccounts(deps.db, after, batchSize);
    if (rows.length === 0) break;
    report.batches += 1;
    for (const row of rows) {
      const account = locationOf(row);
      const outcome = await resealRow(deps, { table: 'accounts', id: row.id }, async () => {
        const credentials = await resealValue(deps.vault, credentialsContext(account), row.credentials_enc);
        const refreshToken = await resealValue(deps.vault, refreshTokenContext(account), row.refresh_token_enc);
        return replaceAccountSealing(deps.db, row, {
          credentials_enc: credentials ?? row.credentials_enc,
          refresh_token_enc: refreshToken ?? row.refresh_token_enc,
        });
      });
      count(report, 'accounts', outcome);
    }
    after = rows[rows.length - 1]!.id;
  }

  for (let after = ''; ;) {
    const rows = await findLegacySealedOAuthApps(deps.db, after, batchSize);
    if (rows.length === 0) break;
    report.batches += 1;
    for (const row of rows) {
      const outcome = await resealRow(deps, { table: 'oauth_apps', id: row.id }, async () => {
        const resealed = await resealValue(deps.vault, clientSecretContext(row.project_id, row.id), row.client_secret_enc);
        return resealed !== null && replaceOAuthAppSealing(deps.db, row, resealed);
      });
      count(report, 'oauthApps', outcome);
    }
    after = rows[rows.length - 1]!.id;
  }

  for (let after: EnvironmentKey | undefined; ;) {
    const rows = await findLegacySealedEnvironments(deps.db, after, batchSize);
    if (rows.length === 0) break;
    report.batches += 1;
    for (const row of rows) {
      const key: EnvironmentKey = { projectId: row.project_id, environment: row.name };
      const outcome = await resealRow(deps, { table: 'environments', project_id: row.project_id, environment: row.name }, async () => {
        const resealed = await resealValue(deps.vault, signingKeyContext(key), row.webhook_signing_key_enc);
        return resealed !== null && replaceSigningKeySealing(deps.db, row, resealed);
      });
      count(report, 'environments', outcome);
    }
    const last = rows[rows.length - 1]!;
    after = { projectId: last.project_id, environment: last.name };
  }
  return report;
}

export type ResealJob = BackgroundJob & { runResealPass(): Promise<ResealReport> };

/**
 * The migration as a background job: a pass each interval until one finds nothing left to
 * re-seal (every replica may run it; the compare-and-set keeps their work from colliding).
 * Then it stops scanning: new values are always written in format 2. A restart scans once more.
 */
export function createResealJob(deps: ResealDeps, options: Partial<ResealOptions> = {}): ResealJob {
  const settings = { ...DEFAULT_RESEAL_OPTIONS, ...options };
  let finished = false;
  const runResealPass = async (): Promise<ResealReport> => {
    const report = await resealLegacyValues(deps, settings.batchSize);
    const resealed = report.accounts + report.oauthApps + report.environments;
    if (resealed > 0 || report.unreadable > 0) deps.logger?.info({ reseal: report }, 'sealed values re-sealed bound to their project and environment');
    if (resealed === 0 && report.raced === 0) finished = true;
    return report;
  };
  const job = intervalJob(
    'reseal',
    settings.intervalMs,
    async () => {
      if (!finished) await runResealPass();
    },
    (err) => deps.logger?.error({ err }, 'reseal pass failed'),
  );
  return { ...job, runResealPass };
}
