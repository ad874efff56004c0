/**
 * A worker process's monitoring endpoints (README "Monitoring"):
 * - its own prom-client registry (`lib/metrics.ts`: tokens, tools, billing, chat
 *   request outcomes, Node defaults) on `GET /metrics` of a tiny HTTP server
 *   (`WORKER_METRICS_PORT`);
 * - the Temporal SDK's worker metrics (pollers, slots, schedule-to-start latencies),
 *   served by the SDK's own Prometheus exporter (`TEMPORAL_METRICS_PORT`).
 */
import http from 'node:http';
import { Runtime } from '@temporalio/worker';
import type { Registry } from 'prom-client';
import { metricsRegistry } from '../lib/metrics';

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `GET /metrics` at host:port; everything else is 404. */
export async function startMetricsServer(
  port: number,
  host = '0.0.0.0',
  registry: Registry = metricsRegistry,
): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      (err: unknown) =>
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Installs the process's Temporal Runtime with its Prometheus exporter on
 * `bindAddress` (e.g. `0.0.0.0:9465`), durations in seconds. Must run before the
 * first `NativeConnection`: the Runtime is a per-process singleton, created once.
 */
export function installTemporalMetrics(bindAddress: string): Runtime {
  if (Runtime._instance) {
    throw new Error(
      'the Temporal Runtime already exists: install its metrics before any connection',
    );
  }
  return Runtime.install({
    telemetryOptions: {
      metrics: { prometheus: { bindAddress, useSecondsForDurations: true } },
    },
  });
}
