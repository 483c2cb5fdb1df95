// npm run test:coverage: the coverage of src/ from the V8 data tap collected in .tap/coverage.
// The report is monocart-coverage-reports', not tap's own: tap reports through c8, whose
// v8-to-istanbul maps compiled code to the source line by line, and tsx compiles each module
// onto a single line, so every file that ran at all would read 100 %. Monocart maps V8's byte
// ranges through the source maps instead. Its function, statement and branch figures count the
// blocks V8 saw unrun; its line and byte figures do not always (on a scratch file an uncalled
// function's lines read uncovered, an untaken switch case's lines covered), so read those as
// upper bounds. A report, not a gate: it never fails the run.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CoverageReport } from 'monocart-coverage-reports';

const ROOT = path.resolve(import.meta.dirname, '..');
const RAW_DIR = path.join(ROOT, '.tap', 'coverage');
const SOURCE_PREFIX = `file://${path.join(ROOT, 'src')}/`;

if (!existsSync(RAW_DIR)) {
  console.log('coverage: no data in .tap/coverage (tap ran with coverage off)');
} else {
  const report = new CoverageReport({
    name: 'latchkey src/',
    outputDir: path.join(ROOT, 'coverage'),
    reports: process.argv.includes('--details') ? ['console-details', 'v8-json'] : ['console-summary', 'v8-json'],
    entryFilter: (entry) => entry.url.startsWith(SOURCE_PREFIX),
    sourceFilter: (sourcePath) => sourcePath.includes('src/'),
    all: { dir: path.join(ROOT, 'src'), filter: (file) => file.endsWith('.ts') },
    cleanCache: true,
    logging: 'error',
  });
  await report.addFromDir(RAW_DIR);
  await report.generate();
}
