/**
 * Benchmark of monitoring overhead (docs/SPEC.md "P3": monitoring must cost little): chat
 * requests per second with metrics on vs off, side by side in one run.
 *
 * One system (API, in-process workers, embedded LLM; Temporal, Postgres, Redis of the
 * local stack), 20 WebSocket clients in a closed loop (each sends its next request when
 * `done` arrives). Blocks of a few seconds alternate on/off in ABBA order (on, off,
 * off, on, ...) so drift (database growth, JIT, the Temporal server warming) falls on
 * both equally. "Off" is `METRICS_ENABLED=false`: `setMetricsEnabled(false)`, every
 * hot-path recording call becomes a no-op in this process (API and workers alike).
 *
 * Reported: requests/s per mode and the throughput cost; CPU time of this process per
 * request per mode; and, because both are noisy on a shared machine, the direct cost:
 * the recording calls one request makes (counted over a calibration round) times what
 * each kind of call costs (timed in a tight loop), against the CPU time per request.
 * Also what a scrape of /metrics costs.
 *
 * `npm run bench -- metrics-overhead`, or alone on a running stack:
 * `node --import tsx bench/metrics-overhead.ts`.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HOT_PATH_METRICS, metricsRegistry, setMetricsEnabled } from '../lib/metrics';
import { startSystem, type TestSystem } from '../testkit/system';
import { ensureBundle } from '../testkit/tool-worker-process';
import { BenchChatClient } from './chat-client';
import { percentile, round, runStandalone, type BenchResult } from './result';

const CLIENTS = 20;
const WARMUP_S = 4;
const BLOCK_S = 5;
/** ABBA: each mode runs first as often as second. */
const ORDER: readonly boolean[] = [true, false, false, true, true, false, false, true];
const CONTENT = 'metrics bench [[tokens:8]]';
const SCRAPES = 50;
/** Requests per client in the calibration round (all counted, none cut off). */
const CALIBRATION_PER_CLIENT = 2;

/** Settings that keep quotas, rate limits and summaries out of the measurement. */
const ENV: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  FREE_DAILY_TOKENS: '1000000000',
  FREE_MONTHLY_TOKENS: '30000000000',
  SUMMARY_THRESHOLD: '1000000',
};

interface Seat {
  sessionId: string;
  client: BenchChatClient;
}

interface Block {
  on: boolean;
  seconds: number;
  completed: number;
  /** CPU time of this process (user + system), µs. */
  cpuUs: number;
  /** Client-side request latencies, ms. */
  latencies: number[];
}

async function openSeats(sys: TestSystem): Promise<Seat[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const user = sys.newUser();
      const sessionId = await sys.createSession(user.token);
      return { sessionId, client: await BenchChatClient.connect(sys.wsUrl, user.token) };
    }),
  );
}

/** Closed-loop load for `seconds`; counts requests that end inside the block. */
async function block(seats: readonly Seat[], on: boolean, seconds: number): Promise<Block> {
  setMetricsEnabled(on);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const latencies: number[] = [];
  await Promise.all(
    seats.map(async (seat) => {
      while (performance.now() < end) {
        const t = await seat.client.chat(seat.sessionId, CONTENT);
        if (performance.now() <= end) latencies.push(t.done);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  // Requests still running past `end` are waited for (not counted), so the elapsed
  // time is the block's wall time; CPU covers them too, on both sides alike.
  return {
    on,
    seconds: (performance.now() - t0) / 1000,
    completed: latencies.length,
    cpuUs: cpu.user + cpu.system,
    latencies,
  };
}

type Kind = 'counter' | 'histogram' | 'gauge';
const RECORDERS = ['inc', 'dec', 'set', 'observe'] as const;

/** Counts, by kind, the recording calls made while `fn` runs (timers end in observe/set). */
async function countCalls<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; calls: Record<Kind, number> }> {
  const calls: Record<Kind, number> = { counter: 0, histogram: 0, gauge: 0 };
  const restore: Array<() => void> = [];
  for (const metric of HOT_PATH_METRICS) {
    const m = metric as Record<string, unknown>;
    const kind: Kind =
      metric instanceof Histogram ? 'histogram' : metric instanceof Gauge ? 'gauge' : 'counter';
    for (const name of RECORDERS) {
      const original = m[name];
      if (typeof original !== 'function') continue;
      const own = Object.prototype.hasOwnProperty.call(m, name);
      m[name] = function (this: unknown, ...args: unknown[]) {
        calls[kind]++;
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      };
      restore.push(() => {
        if (own) m[name] = original;
        else delete m[name];
      });
    }
  }
  try {
    return { result: await fn(), calls };
  } finally {
    for (const r of restore) r();
  }
}

/** Mean cost of one call of each kind, ns, shaped like ours (labels, 13 buckets). */
function costPerCallNs(): Record<Kind, number> {
  const registers = [new Registry()];
  const c = new Counter({
    name: 'bench_c',
    help: 'c',
    labelNames: ['method', 'status'],
    registers,
  });
  const h = new Histogram({
    name: 'bench_h',
    help: 'h',
    labelNames: ['method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const g = new Gauge({ name: 'bench_g', help: 'g', registers });
  const time = (f: () => void, n = 300_000) => {
    for (let i = 0; i < 20_000; i++) f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return ((performance.now() - t0) * 1e6) / n;
  };
  const labels = { method: 'ws', status: 'done' };
  const method = { method: 'ws' };
  return {
    counter: time(() => c.inc(labels)),
    histogram: time(() => h.observe(method, 0.3)),
    gauge: time(() => g.set(3)),
  };
}

/**
 * Every client sends a few requests, all awaited, then trailing work (billing) gets a
 * moment: the recording calls counted meanwhile belong to exactly these requests.
 */
async function calibrationRound(seats: readonly Seat[]): Promise<number> {
  await Promise.all(
    seats.map(async (seat) => {
      for (let i = 0; i < CALIBRATION_PER_CLIENT; i++)
        await seat.client.chat(seat.sessionId, CONTENT);
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  return seats.length * CALIBRATION_PER_CLIENT;
}

/** Mean time of one full scrape of the registry (what Prometheus pays per scrape). */
async function scrapeCostMs(): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < SCRAPES; i++) await metricsRegistry.metrics();
  return (performance.now() - t0) / SCRAPES;
}

/** The benchmark. */
export async function run(): Promise<BenchResult> {
  // One workflow bundle for all four workers (built now unless npm run bench built it).
  const sys = await startSystem({ env: { ...ENV, WORKFLOW_BUNDLE_PATH: await ensureBundle() } });
  let seats: Seat[] = [];
  try {
    seats = await openSeats(sys);
    await block(seats, true, WARMUP_S);
    const blocks: Block[] = [];
    for (const on of ORDER) blocks.push(await block(seats, on, BLOCK_S));
    setMetricsEnabled(true);
    const calibration = await countCalls(() => calibrationRound(seats));
    const costNs = costPerCallNs();
    const perRequest = (k: Kind) => calibration.calls[k] / calibration.result;
    const directUs =
      (perRequest('counter') * costNs.counter +
        perRequest('histogram') * costNs.histogram +
        perRequest('gauge') * costNs.gauge) /
      1000;
    const scrapeMs = await scrapeCostMs();

    const mode = (on: boolean) => {
      const bs = blocks.filter((b) => b.on === on);
      const completed = bs.reduce((n, b) => n + b.completed, 0);
      const seconds = bs.reduce((n, b) => n + b.seconds, 0);
      return {
        rps: completed / seconds,
        blockRps: bs.map((b) => b.completed / b.seconds),
        cpuUsPerRequest: bs.reduce((n, b) => n + b.cpuUs, 0) / completed,
        latencies: bs.flatMap((b) => b.latencies),
        completed,
      };
    };
    const on = mode(true);
    const off = mode(false);
    // Noise: the 95% interval of the difference of the per-block means, in % of off.
    const variance = (xs: number[]) => {
      const m = xs.reduce((a, b) => a + b, 0) / xs.length;
      return xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1);
    };
    const ci95 =
      (1.96 *
        Math.sqrt(
          variance(on.blockRps) / on.blockRps.length + variance(off.blockRps) / off.blockRps.length,
        ) *
        100) /
      off.rps;
    const spread = (xs: number[]) => `${round(Math.min(...xs), 1)}..${round(Math.max(...xs), 1)}`;
    const metrics: Record<string, number | string> = {
      clients: CLIENTS,
      blocks_per_mode: ORDER.length / 2,
      block_s: BLOCK_S,
      requests_on: on.completed,
      requests_off: off.completed,
      rps_metrics_on: round(on.rps, 1),
      rps_metrics_off: round(off.rps, 1),
      rps_on_block_range: spread(on.blockRps),
      rps_off_block_range: spread(off.blockRps),
      throughput_cost_pct: round(((off.rps - on.rps) / off.rps) * 100, 2),
      throughput_cost_ci95_pct: round(ci95, 1),
      cpu_us_per_request_on: round(on.cpuUsPerRequest, 0),
      cpu_us_per_request_off: round(off.cpuUsPerRequest, 0),
      cpu_cost_pct: round(
        ((on.cpuUsPerRequest - off.cpuUsPerRequest) / off.cpuUsPerRequest) * 100,
        2,
      ),
      recording_calls_per_request: round(
        perRequest('counter') + perRequest('histogram') + perRequest('gauge'),
        1,
      ),
      ns_per_counter_inc: round(costNs.counter, 0),
      ns_per_histogram_observe: round(costNs.histogram, 0),
      direct_recording_us_per_request: round(directUs, 1),
      direct_cost_pct: round((directUs / on.cpuUsPerRequest) * 100, 3),
      done_p50_ms_on: round(percentile(on.latencies, 50), 1),
      done_p50_ms_off: round(percentile(off.latencies, 50), 1),
      done_p99_ms_on: round(percentile(on.latencies, 99), 1),
      done_p99_ms_off: round(percentile(off.latencies, 99), 1),
      scrape_ms: round(scrapeMs, 2),
    };
    return {
      name: 'metrics-overhead',
      command: 'node --import tsx bench/metrics-overhead.ts',
      metrics,
      goals: [
        { metric: 'throughput_cost_pct', op: '<=', target: 3 },
        { metric: 'direct_cost_pct', op: '<=', target: 3 },
      ],
      notes: [
        `${CLIENTS} WebSocket clients in a closed loop ("${CONTENT}": 8 tokens), ${ORDER.length} blocks of ${BLOCK_S} s alternating metrics on/off in ABBA order after a ${WARMUP_S} s warm-up; one process runs the API, the workers and the embedded LLM.`,
        'Off = METRICS_ENABLED=false (setMetricsEnabled(false)): every hot-path recording call (counters, histograms, gauges, db timers) is a no-op.',
        'throughput_cost_pct = (rps off - rps on) / rps off, ± throughput_cost_ci95_pct (95% interval from the block-to-block spread: the noise floor of the end-to-end comparison on this machine). cpu_us_per_request = CPU time of this process (user + system) / requests, per mode.',
        `direct cost: recording calls counted over ${CLIENTS} x ${CALIBRATION_PER_CLIENT} requests (metrics on), each costed by kind in a tight loop (labelled counter inc, labelled 13-bucket histogram observe, gauge set); direct_cost_pct = that time / CPU time per request. It is the part of the difference the end-to-end figures cannot resolve on a shared machine.`,
        `scrape_ms: one full render of the /metrics registry (mean of ${SCRAPES}); Prometheus scrapes every 15 s in docker-compose.`,
      ],
    };
  } finally {
    setMetricsEnabled(true);
    for (const s of seats) await s.client.close();
    await sys.stop();
  }
}

if (require.main === module) runStandalone(run);
