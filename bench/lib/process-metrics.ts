// Where a latchkey process's memory is, from its own Prometheus endpoint (/metrics, prom-client's
// default process and Node.js metrics): the V8 heap against memory outside it (Buffers, WASM).
import { BENCH_METRICS_TOKEN } from './latchkey-server.ts';

export interface MemoryBreakdown {
  heapTotalBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
}

export async function readMemoryBreakdown(origin: string): Promise<MemoryBreakdown> {
  const response = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const text = await response.text();
  const gauge = (name: string): number => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (match === null) throw new Error(`/metrics has no ${name}`);
    return Number(match[1]);
  };
  return {
    heapTotalBytes: gauge('nodejs_heap_size_total_bytes'),
    heapUsedBytes: gauge('nodejs_heap_size_used_bytes'),
    externalBytes: gauge('nodejs_external_memory_bytes'),
  };
}
