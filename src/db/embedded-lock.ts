// PGlite is one process's database: a second process opening the same folder (the CLI beside a
// running server) would write beside it and lose or corrupt data. So whoever opens the embedded
// database first writes its pid into a lock file in the data dir, atomically (O_EXCL), and
// removes it on close. The next opener is refused while that process lives; a lock left by a
// process that died (kill -9, a crash, a container restart) is taken over.
import { open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

export const LOCK_FILE_NAME = 'latchkey.lock';

export class EmbeddedDatabaseLockedError extends Error {
  override name = 'EmbeddedDatabaseLockedError';

  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${ownerPid} (a running latchkey server?). ` +
        'PGlite allows one process at a time: stop that process first, or use PostgreSQL (DATABASE_URL) to run the CLI beside a server. ' +
        `If no such process exists, delete ${path.join(dataDir, LOCK_FILE_NAME)}.`,
    );
  }
}

export interface EmbeddedLock {
  release(): Promise<void>;
}

/** Lock files this process holds: a second open in the same process is refused too. */
const heldHere = new Set<string>();

export async function acquireEmbeddedLock(dataDir: string, pid: number = process.pid): Promise<EmbeddedLock> {
  const file = path.join(dataDir, LOCK_FILE_NAME);
  // Two rounds: the first may find a stale lock and remove it; another opener may win the race to
  // recreate it, and then that opener is the owner.
  for (let round = 0; round < 2; round += 1) {
    if (await createExclusively(file, pid)) {
      heldHere.add(file);
      return { release: () => release(file, pid) };
    }
    const owner = await readOwner(file);
    if (owner !== undefined && ownerIsLive(file, owner, pid)) throw new EmbeddedDatabaseLockedError(dataDir, owner);
    await unlink(file).catch(ignoreMissing);
  }
  throw new EmbeddedDatabaseLockedError(dataDir, (await readOwner(file)) ?? 0);
}

async function createExclusively(file: string, pid: number): Promise<boolean> {
  try {
    const handle = await open(file, 'wx', 0o600);
    try {
      await handle.writeFile(`${pid}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The pid in the file; undefined when it is gone or holds no pid (a lock being written is a race we accept losing once). */
async function readOwner(file: string): Promise<number | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  } catch (err) {
    ignoreMissing(err);
    return undefined;
  }
}

/**
 * Our own pid is live only if this process really holds the lock: in a container every start is
 * pid 1, so a lock with our pid that we did not take is a previous run's.
 */
function ownerIsLive(file: string, owner: number, pid: number): boolean {
  if (owner === pid) return heldHere.has(file);
  try {
    process.kill(owner, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function release(file: string, pid: number): Promise<void> {
  if (!heldHere.delete(file)) return;
  if ((await readOwner(file)) === pid) await unlink(file).catch(ignoreMissing);
}

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
}
