// Background work a replica runs beside serving requests (token refresher, webhook delivery).
// Every job coordinates through PostgreSQL (SKIP LOCKED, leases), so any number may run.
export interface BackgroundJob {
  readonly name: string;
  start(): void;
  /** Stops scheduling and waits for work in flight. */
  stop(): Promise<void>;
}

/** Runs `tick` every `intervalMs` (never overlapping itself) until stopped. */
export function intervalJob(name: string, intervalMs: number, tick: () => Promise<void>, onError: (err: unknown) => void): BackgroundJob {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch(onError)
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
    timer.unref();
  };
  return {
    name,
    start: () => {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    stop: async () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}
