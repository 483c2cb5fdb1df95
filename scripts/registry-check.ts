// `npm run registry:check [-- [--quiet] [--insecure-loopback] [folder ...]]`: the loader's checks
// alone, without a database or keys. Prints one line per entry (auth type, the names filled
// into URLs, how the credential is sent, the test request), then every problem as
// `file: /pointer message` on stderr, and exits 1 when there is any. Folders given are checked
// after app-registry/, as LATCHKEY_APP_REGISTRY_DIRS would add them.
import { describeEntry, type EntryDescription } from '../src/registry/describe-entry.ts';
import { BUILTIN_REGISTRY_DIR, inspectRegistry } from '../src/registry/loader.ts';

const args = process.argv.slice(2);
const quiet = args.includes('--quiet');
const insecureLoopback = args.includes('--insecure-loopback');
const unknown = args.filter((arg) => arg.startsWith('--') && arg !== '--quiet' && arg !== '--insecure-loopback');
if (unknown.length > 0) {
  process.stderr.write(`registry:check: unknown option ${unknown[0]} (use --quiet, --insecure-loopback and folders)\n`);
  process.exit(2);
}
const dirs = [BUILTIN_REGISTRY_DIR, ...args.filter((arg) => !arg.startsWith('--'))];

const inspection = await inspectRegistry({ dirs, insecureLoopback });
const entries = [...inspection.apps].sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0)).map(describeEntry);
if (!quiet) process.stdout.write(formatTable(entries));
for (const problem of inspection.problems) process.stderr.write(`${problem}\n`);
const types = (['oauth', 'oauth1', 'keys', 'none', 'mcp'] as const)
  .map((type) => `${entries.filter((entry) => entry.authType === type).length} ${type}`)
  .join(', ');
process.stdout.write(`${entries.length} entries valid (${types}); ${inspection.problems.length} problem${inspection.problems.length === 1 ? '' : 's'}\n`);
process.exitCode = inspection.problems.length === 0 ? 0 : 1;

function formatTable(rows: readonly EntryDescription[]): string {
  // A machine grant says so beside its auth type; authorization code stays plain `oauth`.
  const auth = (row: EntryDescription): string =>
    row.grant === undefined || row.grant === 'authorization_code' ? row.authType : `${row.authType} (${row.grant})`;
  const cells = rows.map((row) => [row.slug, auth(row), row.templated.length === 0 ? '-' : row.templated.join(', '), row.injection, row.testRequest]);
  const header = ['entry', 'auth', 'templated', 'credential', 'test request'];
  const widths = header.map((title, i) => Math.min(48, Math.max(title.length, ...cells.map((cell) => cell[i]!.length))));
  const line = (cell: readonly string[]): string =>
    cell
      .map((value, i) => (i === cell.length - 1 ? value : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [header, ...cells].map(line).join('\n') + '\n';
}
