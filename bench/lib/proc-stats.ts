// CPU time and memory of another process, read from /proc (Linux): the benchmark measures the
// server from outside, so nothing in the server has to report on itself.
import { readFileSync } from 'node:fs';

// USER_HZ: the kernel reports utime/stime in these ticks; 100 on every Linux ABI node runs on.
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU time of `pid` so far, in microseconds (10 ms resolution). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** Resident set size of `pid` now, in bytes. */
export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** The highest resident set size `pid` has had, in bytes. */
export function peakRssBytes(pid: number): number {
  return statusField(pid, 'VmHWM');
}

function statusField(pid: number, name: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status has no ${name}`);
  return Number(match[1]) * 1024;
}

/** Samples the RSS of a process every `intervalMs` until stopped; the largest sample counts. */
export class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    try {
      this.max = Math.max(this.max, rssBytes(this.pid));
    } catch {
      // The process ended: keep what was seen.
    }
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.max;
  }
}
