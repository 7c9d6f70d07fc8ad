import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric Stowage exports, on one registry per app (no globals, so tests can run apps side by side). */
export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly uploadBytes: Counter<'type'>;
  readonly indexUpdates: Counter<'type'>;
  readonly indexUpdateDuration: Histogram<'type'>;
  readonly forgeCalls: Counter<'endpoint' | 'status'>;
  readonly forgeLatency: Histogram<'endpoint'>;
  readonly authCache: Counter<'cache' | 'result'>;
  readonly forgeBreakerOpen: Gauge;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'stowage_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'stowage_http_request_duration_seconds',
      help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300],
      registers,
    }),
    uploadBytes: new Counter({
      name: 'stowage_upload_bytes_total',
      help: 'Bytes received in package uploads',
      labelNames: ['type'],
      registers,
    }),
    indexUpdates: new Counter({
      name: 'stowage_index_updates_total',
      help: 'Index updates committed',
      labelNames: ['type'],
      registers,
    }),
    indexUpdateDuration: new Histogram({
      name: 'stowage_index_update_duration_seconds',
      help: 'Time spent rebuilding indexes inside the repository lock',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    forgeCalls: new Counter({
      name: 'stowage_forge_calls_total',
      help: 'Calls to the forge API by endpoint and status',
      labelNames: ['endpoint', 'status'],
      registers,
    }),
    forgeLatency: new Histogram({
      name: 'stowage_forge_call_duration_seconds',
      help: 'Forge call latency',
      labelNames: ['endpoint'],
      registers,
    }),
    authCache: new Counter({
      name: 'stowage_auth_cache_total',
      help: 'Auth cache lookups by cache and result (hit, miss)',
      labelNames: ['cache', 'result'],
      registers,
    }),
    forgeBreakerOpen: new Gauge({
      name: 'stowage_forge_breaker_open',
      help: '1 while the forge circuit breaker is open',
      registers,
    }),
  };
}
