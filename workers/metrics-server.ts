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
import type { Config } from '../lib/config';
import { metricsRegistry } from '../lib/metrics';

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `GET /metrics` at host:port; everything else is 404. */
export async function startMetricsServer(
  port: number,
  host = '127.0.0.1',
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

/**
 * A worker process's two endpoints as configured: the Temporal SDK exporter (installed
 * first: before any connection) and its own /metrics, both on `METRICS_HOST` (loopback
 * unless configured, so nothing outside the host reads them by default). A port of 0
 * turns that endpoint off.
 */
export async function startWorkerMetrics(
  config: Pick<Config, 'metricsHost' | 'workerMetricsPort' | 'temporalMetricsPort'>,
): Promise<MetricsServer | undefined> {
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  if (config.temporalMetricsPort > 0) installTemporalMetrics(`${host}:${config.temporalMetricsPort}`);
  if (config.workerMetricsPort === 0) return undefined;
  return startMetricsServer(config.workerMetricsPort, config.metricsHost);
}
