// The proxy's Prometheus series: calls and latency by app and status class, and whether the
// status came from the upstream or from latchkey itself (a refusal, a timeout, a rate limit).
// Labels stay bounded: app slugs come from the registry, classes are 1xx–5xx.
import { Counter, Histogram, type Registry } from 'prom-client';

export type StatusSource = 'upstream' | 'latchkey';

export interface ProxyMetrics {
  observe(call: { app: string; status: number; source: StatusSource; seconds: number; responseBytes: number }): void;
}

export function createProxyMetrics(registry: Registry): ProxyMetrics {
  const calls = new Counter({
    name: 'latchkey_proxy_requests_total',
    help: 'Connect proxy calls by app, status class and the status source (upstream or latchkey)',
    labelNames: ['app', 'status_class', 'source'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'latchkey_proxy_request_duration_seconds',
    help: 'Connect proxy call duration (until the last byte of the answer) by app and status class',
    labelNames: ['app', 'status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const bytes = new Counter({
    name: 'latchkey_proxy_response_bytes_total',
    help: 'Bytes of upstream response bodies returned through the Connect proxy, by app',
    labelNames: ['app'] as const,
    registers: [registry],
  });
  return {
    observe: ({ app, status, source, seconds, responseBytes }) => {
      const statusClass = `${Math.floor(status / 100)}xx`;
      calls.inc({ app, status_class: statusClass, source });
      duration.observe({ app, status_class: statusClass }, seconds);
      if (responseBytes > 0) bytes.inc({ app }, responseBytes);
    },
  };
}
