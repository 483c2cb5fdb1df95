// The proxy benchmark's upstream API: bare node:http on 127.0.0.1 (PORT), kept-alive, answering a
// small JSON body to the seeded account's bearer and 401 to anything else, so every measured
// proxy call proves the credential was injected. A process of its own, like every server the
// benchmarks measure or call.
import http from 'node:http';
import { benchAccessToken } from './lib/bench-accounts.ts';

const expected = `Bearer ${benchAccessToken(0, 0)}`;
const body = JSON.stringify({
  data: [
    { id: 'item_1', name: 'First item', updated_at: '2026-12-01T12:00:00Z' },
    { id: 'item_2', name: 'Second item', updated_at: '2026-12-01T12:00:01Z' },
  ],
  next: null,
});

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return void res.writeHead(200).end('ok');
  if (req.headers.authorization !== expected) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env['PORT']), '127.0.0.1');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
