// The embedded database is one process's: the CLI refuses to run against a data dir a running
// server holds (exit 1, a message naming the owner's pid, nothing created), a lock left by a
// process that died is taken over, and a clean stop leaves no lock behind.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { EmbeddedDatabaseLockedError, LOCK_FILE_NAME, acquireEmbeddedLock } from '../../src/db/embedded-lock.ts';
import { processEnv, runCli, runServerToExit, startServer } from '../fixtures/latchkey-process.ts';

const ADMIN = 'lock-test-admin-token-0123456789abcdef012';
t.setTimeout(300_000);

async function tempDataDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'latchkey-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited: a lock it left is stale. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((resolve) => child.once('exit', resolve));
  return pid;
}

t.test('the CLI refuses a data dir that a running server holds, and runs once the server stopped', async (t) => {
  const dataDir = await tempDataDir(t);
  const env = processEnv({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ADMIN_TOKEN: ADMIN });
  const server = await startServer(env);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await server.stop();
  });
  const lockFile = path.join(dataDir, LOCK_FILE_NAME);
  const ownerPid = Number((await readFile(lockFile, 'utf8')).trim());
  t.ok(Number.isInteger(ownerPid) && ownerPid > 0, 'the server wrote its pid into the lock file');

  const refused = await runCli(['setup', 'demo'], env);
  t.equal(refused.code, 1, 'exit 1');
  t.notOk(refused.stdout.includes('client_secret') || refused.stdout.includes('proj_'), 'no project or credentials printed');
  t.equal(
    refused.stderr,
    `latchkey: the embedded database in ${dataDir} is in use by process ${ownerPid} (a running latchkey server?). ` +
      'PGlite allows one process at a time: stop that process first, or use PostgreSQL (DATABASE_URL) to run the CLI beside a server. ' +
      `If no such process exists, delete ${lockFile}.\n`,
  );
  const listed = await fetch(`${server.url}/v1/admin/projects`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.same(((await listed.json()) as { data: unknown[] }).data, [], 'the refused setup created no project');

  const exit = await server.stop();
  stopped = true;
  t.equal(exit.code, 0);
  t.notOk(existsSync(lockFile), 'a clean stop removes the lock');
  const setup = await runCli(['setup', 'demo'], env);
  t.equal(setup.code, 0, 'with the server stopped the CLI runs');
  t.match(setup.stdout, /"project_id": "proj_/);
  t.notOk(existsSync(lockFile), 'and leaves no lock either');
});

t.test('a server refuses to start on a data dir another process holds', async (t) => {
  const dataDir = await tempDataDir(t);
  // This test process plays the running owner.
  const lock = await acquireEmbeddedLock(dataDir);
  t.teardown(() => lock.release());
  const result = await runServerToExit(processEnv({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_ADMIN_TOKEN: ADMIN }));
  t.equal(result.code, 1);
  t.match(result.stderr, `latchkey: cannot start: the embedded database in ${dataDir} is in use by process ${process.pid} (a running latchkey server?)`);
  t.equal((await readFile(path.join(dataDir, LOCK_FILE_NAME), 'utf8')).trim(), String(process.pid), 'the owner keeps its lock');
});

t.test('locks: one holder, in-process too; a dead owner’s lock is taken over; release only removes our own', async (t) => {
  const dataDir = await tempDataDir(t);
  const lockFile = path.join(dataDir, LOCK_FILE_NAME);

  const first = await acquireEmbeddedLock(dataDir);
  await t.rejects(acquireEmbeddedLock(dataDir), EmbeddedDatabaseLockedError, 'a second open in the same process is refused');
  await first.release();
  t.notOk(existsSync(lockFile));

  const dead = await deadPid();
  await writeFile(lockFile, `${dead}\n`);
  const takenOver = await acquireEmbeddedLock(dataDir);
  t.equal((await readFile(lockFile, 'utf8')).trim(), String(process.pid), 'a dead owner’s lock is taken over');
  await takenOver.release();

  // A container restarts as pid 1 every time: a lock with our pid that we did not take is stale.
  await writeFile(lockFile, `${process.pid}\n`);
  const ours = await acquireEmbeddedLock(dataDir);
  await ours.release();
  t.notOk(existsSync(lockFile));

  await writeFile(lockFile, 'not a pid\n');
  const overGarbage = await acquireEmbeddedLock(dataDir);
  t.equal((await readFile(lockFile, 'utf8')).trim(), String(process.pid), 'a lock file without a pid is taken over');
  // Someone replaced the lock meanwhile (an operator deleted it, another process took it): not ours to remove.
  await writeFile(lockFile, '1\n');
  await overGarbage.release();
  t.equal((await readFile(lockFile, 'utf8')).trim(), '1', 'release leaves a lock that is not ours');

  const liveOther = await acquireEmbeddedLock(dataDir, 999_999_999).catch((err: unknown) => err);
  t.type(liveOther, EmbeddedDatabaseLockedError, 'pid 1 is alive: its lock holds');
  t.equal((liveOther as EmbeddedDatabaseLockedError).ownerPid, 1);
});
