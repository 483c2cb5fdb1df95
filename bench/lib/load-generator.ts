// The load generator, run as a process of its own (never inside a measured server): autocannon
// against one origin, each request's path drawn at random from a list (one path for a single
// account, many for a working set). Reads its spec from the JSON file named on the command line
// and prints the result as one JSON line.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.ts';

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const paths = spec.paths;
if (paths.length === 0) throw new Error('the load spec has no paths');

const result = await autocannon({
  url: `${spec.origin}${paths[0]}`,
  connections: spec.connections,
  duration: spec.seconds,
  headers: spec.headers,
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => (paths.length === 1 ? request : { ...request, path: paths[Math.floor(Math.random() * paths.length)]! }),
    },
  ],
});

const output: LoadResult = {
  reqPerSec: result.requests.average,
  total: result.requests.total,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
