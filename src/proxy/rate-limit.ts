// The proxy's rate limit: at most `limit` calls per project in each window, Pipedream's model
// (1,000 per 5 minutes by default). Counted in this replica's memory: N replicas behind a load
// balancer allow up to N × limit, which the README says. A fixed window that starts with a
// project's first call, so Retry-After is exact: the seconds until that window ends.
export interface RateLimitSettings {
  readonly limit: number;
  readonly windowSeconds: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Window {
  startedMs: number;
  count: number;
}

/** Past this many projects, windows that ended are swept before a new one is added. */
const SWEEP_AT = 10_000;

export class ProjectRateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;

  constructor(
    private readonly settings: RateLimitSettings,
    private readonly now: () => number,
  ) {
    this.windowMs = settings.windowSeconds * 1000;
  }

  take(projectId: string): RateDecision {
    const nowMs = this.now();
    let window = this.windows.get(projectId);
    if (window === undefined || nowMs - window.startedMs >= this.windowMs) {
      if (window === undefined && this.windows.size >= SWEEP_AT) this.sweep(nowMs);
      window = { startedMs: nowMs, count: 0 };
      this.windows.set(projectId, window);
    }
    if (window.count >= this.settings.limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((window.startedMs + this.windowMs - nowMs) / 1000)) };
    }
    window.count++;
    return { allowed: true };
  }

  private sweep(nowMs: number): void {
    for (const [projectId, window] of this.windows) if (nowMs - window.startedMs >= this.windowMs) this.windows.delete(projectId);
  }
}
