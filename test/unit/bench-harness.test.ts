// The benchmark's account conventions (bench/lib/bench-accounts.ts), which the seeder, the fake
// provider and the scenarios must agree on: a cheap check, no server and no database.
import t from 'tap';
import { medianOf, runRotatingRounds, throughputRatios } from '../../bench/lib/rounds.ts';
import { benchAccessToken, benchAccountId, benchRefreshToken, benchUserId, parseBenchRefreshToken, plannedExpiry } from '../../bench/lib/bench-accounts.ts';

t.test('account and user ids look minted (the routes accept them), are stable and distinct', async (t) => {
  const ids = Array.from({ length: 1000 }, (_, i) => benchAccountId('proj_x', i));
  for (const id of ids) t.match(id, /^apn_[A-Za-z0-9]{16}$/);
  t.equal(new Set(ids).size, 1000);
  t.equal(benchAccountId('proj_x', 7), ids[7]);
  t.not(benchAccountId('proj_y', 7), ids[7]);
  t.match(benchUserId('proj_x', 7), /^exu_[A-Za-z0-9]{16}$/);
});

t.test('a refresh token names its account and generation; tokens are deterministic per generation', async (t) => {
  const token = benchRefreshToken(41, 3);
  t.same(parseBenchRefreshToken(token), { index: 41, generation: 3 });
  t.equal(benchRefreshToken(41, 3), token);
  t.not(benchRefreshToken(41, 4), token);
  t.equal(parseBenchRefreshToken('ya29.something'), undefined);
  t.equal(parseBenchRefreshToken(`${token}\n`), undefined);
  t.equal(benchAccessToken(41, 3), benchAccessToken(41, 3));
  t.ok(benchAccessToken(41, 3).length >= 160, 'as long as a real provider access token');
});

t.test('expiries are spread evenly from start + lead over the span', async (t) => {
  const plan = { startMs: 1_000_000, leadMs: 540_000, spanMs: 3_060_000, count: 100 };
  t.equal(plannedExpiry(plan, 0), 1_540_000);
  t.equal(plannedExpiry(plan, 50), 1_540_000 + 1_530_000);
  t.equal(plannedExpiry(plan, 99), 1_540_000 + 3_029_400);
});

t.test('rounds rotate the order by one each round, and ratios pair runs of the same round', async (t) => {
  const calls: string[] = [];
  const run = (name: string, reqPerSec: number) => async () => {
    calls.push(name);
    return { name, reqPerSec, total: 0, p50: 0, p99: 0, non2xx: 0, errors: 0, cpuMicrosPerRequest: 0, peakRssBytes: 0 };
  };
  const runs = await runRotatingRounds({ a: run('a', 100), b: run('b', 50), c: run('c', 25) }, ['a', 'b', 'c'], 4);
  t.same(calls, ['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b', 'a', 'b', 'c']);
  t.equal(runs.a.length, 4);
  t.same(throughputRatios(runs.a, runs.b), [2, 2, 2, 2]);
  t.equal(
    medianOf(runs.c, (r) => r.reqPerSec),
    25,
  );
});
