// `npm start` compiles only when the build is stale: scripts/build-if-stale.mjs --check, run as
// a process on a scratch copy of the layout it reads (src/, migrations/, the tsconfigs, dist/).
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/build-if-stale.mjs');

t.test('the build is current until an input is newer than the stamp', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'latchkey-build-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(path.join(root, 'scripts'));
  await copyFile(SCRIPT, path.join(root, 'scripts', 'build-if-stale.mjs'));
  await mkdir(path.join(root, 'src', 'db'), { recursive: true });
  await mkdir(path.join(root, 'migrations'));
  await mkdir(path.join(root, 'dist', 'src'), { recursive: true });
  for (const file of ['src/server.ts', 'src/db/connect.ts', 'migrations/001.ts', 'tsconfig.json', 'tsconfig.build.json', 'dist/src/server.js']) {
    await writeFile(path.join(root, file), '// x\n');
  }
  // Everything an hour old; the stamp says the last build started a minute ago.
  const hourAgo = new Date(Date.now() - 3600_000);
  for (const entry of ['src/db/connect.ts', 'src/server.ts', 'src/db', 'src', 'migrations/001.ts', 'migrations', 'tsconfig.json', 'tsconfig.build.json']) {
    await utimes(path.join(root, entry), hourAgo, hourAgo);
  }
  const stamp = path.join(root, 'dist', '.build-stamp');
  const minuteAgo = new Date(Date.now() - 60_000);
  await writeFile(stamp, minuteAgo.toISOString());
  await utimes(stamp, minuteAgo, minuteAgo);

  const check = () => spawnSync(process.execPath, [path.join(root, 'scripts', 'build-if-stale.mjs'), '--check'], { encoding: 'utf8' });
  const current = check();
  t.equal(current.status, 0, 'current: nothing to build');
  t.equal(current.stderr, '');

  const now = new Date();
  await utimes(path.join(root, 'src/db/connect.ts'), now, now);
  const edited = check();
  t.equal(edited.status, 1, 'a file edited after the build starts a build');
  t.equal(edited.stderr, 'latchkey: the build is stale (src changed since the last build)\n');
  await utimes(path.join(root, 'src/db/connect.ts'), hourAgo, hourAgo);
  t.equal(check().status, 0, 'back to current');

  await unlink(path.join(root, 'src/db/connect.ts'));
  const removed = check();
  t.equal(removed.status, 1, 'a removed file (its folder changed) starts a build');
  await utimes(path.join(root, 'src/db'), hourAgo, hourAgo);

  await utimes(path.join(root, 'tsconfig.build.json'), now, now);
  t.equal(check().stderr, 'latchkey: the build is stale (tsconfig.build.json changed since the last build)\n');
  await utimes(path.join(root, 'tsconfig.build.json'), hourAgo, hourAgo);
  t.equal(check().status, 0);

  await unlink(path.join(root, 'dist/src/server.js'));
  t.equal(check().stderr, 'latchkey: the build is stale (no build yet)\n', 'no entry point: a build');
  await writeFile(path.join(root, 'dist/src/server.js'), '// x\n');
  await unlink(stamp);
  t.equal(check().stderr, 'latchkey: the build is stale (no build yet)\n', 'no stamp: a build');
});

t.test('npm start and npm run build go through the staleness script', async (t) => {
  const scripts = (JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  t.equal(scripts['start'], 'node scripts/build-if-stale.mjs && node dist/src/server.js');
  t.equal(scripts['build'], 'node scripts/build-if-stale.mjs --force');
});
