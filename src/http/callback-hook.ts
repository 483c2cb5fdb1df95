// Fastify callback hooks around a synchronous check: no promise per request, which an async hook
// costs even when it awaits nothing.

/** Runs `check` and tells Fastify how it went: `done()` when it passed, `done(err)` with what it threw. */
export function finishHook(done: (err?: Error) => void, check: () => void): void {
  try {
    check();
  } catch (err) {
    done(err as Error);
    return;
  }
  done();
}
