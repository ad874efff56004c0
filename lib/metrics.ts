/**
 * Prometheus metrics (docs/SPEC.md "P3"), one registry per process. Labels never carry
 * user, session or request ids: their values come from small fixed sets (methods,
 * statuses, model names, tool names, cache types).
 *
 * Histograms use few buckets on purpose: monitoring must cost little on the hot path.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Chat requests by how they were made (`ws`, `http`) and how they ended. */
export const chatRequestsTotal = new Counter({
  name: 'chat_requests_total',
  help: 'Chat requests by method and final status',
  labelNames: ['method', 'status'] as const,
  registers: [metricsRegistry],
});

export const chatRequestDuration = new Histogram({
  name: 'chat_request_duration_seconds',
  help: 'Time from a chat request to its last event',
  labelNames: ['method'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

export const timeToFirstToken = new Histogram({
  name: 'chat_time_to_first_token_seconds',
  help: 'Time from a chat request to its first delta',
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** Sessions with a request in flight on this process (see README). */
export const activeSessions = new Gauge({
  name: 'active_sessions',
  help: 'Chat sessions with a request in flight on this API process',
  registers: [metricsRegistry],
});

export const wsConnections = new Gauge({
  name: 'ws_connections',
  help: 'Open WebSocket connections',
  registers: [metricsRegistry],
});

export const wsFramesTotal = new Counter({
  name: 'ws_frames_total',
  help: 'WebSocket frames by direction (in, out)',
  labelNames: ['direction'] as const,
  registers: [metricsRegistry],
});

export const tokensConsumedTotal = new Counter({
  name: 'tokens_consumed_total',
  help: 'LLM tokens consumed, by model and type (prompt, completion)',
  labelNames: ['model', 'type'] as const,
  registers: [metricsRegistry],
});

/**
 * LLM calls per provider and model (docs/API.md "Models and providers"), by outcome:
 * `ok`, `failed` (refused or dropped before its first token), `timeout` (no first token in
 * time), `cut` (failed mid-reply), `error` (refused the request itself, e.g. 400) and
 * `skipped` (its circuit breaker was open). Providers and models come from config.
 */
export const llmRequestsTotal = new Counter({
  name: 'llm_requests_total',
  help: 'LLM calls by provider, model and outcome (ok, failed, timeout, cut, error, skipped)',
  labelNames: ['provider', 'model', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const llmFirstTokenSeconds = new Histogram({
  name: 'llm_first_token_seconds',
  help: 'Time from an LLM call to its first token, by provider and model',
  labelNames: ['provider', 'model'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** Counted once per billed request, with its tokens (0 for models without a price). */
export const llmCostUsdTotal = new Counter({
  name: 'llm_cost_usd_total',
  help: 'What billed LLM tokens cost in US dollars, by model (0 without a configured price)',
  labelNames: ['model'] as const,
  registers: [metricsRegistry],
});

export const toolExecutionsTotal = new Counter({
  name: 'tool_executions_total',
  help: 'Tool executions by tool and outcome',
  labelNames: ['tool_name', 'status'] as const,
  registers: [metricsRegistry],
});

export const toolDuration = new Histogram({
  name: 'tool_duration_seconds',
  help: 'Tool execution time by tool',
  labelNames: ['tool_name'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

export const dbQueryDuration = new Histogram({
  name: 'db_query_duration_seconds',
  help: 'Database query time by query type',
  labelNames: ['query_type'] as const,
  buckets: FAST_BUCKETS,
  registers: [metricsRegistry],
});

export const cacheHitsTotal = new Counter({
  name: 'cache_hits_total',
  help: 'Cache lookups by cache type and outcome (hit = "true" | "false")',
  labelNames: ['cache_type', 'hit'] as const,
  registers: [metricsRegistry],
});

export const summarizationFailuresTotal = new Counter({
  name: 'summarization_failures_total',
  help: 'Conversation summarisations that failed',
  registers: [metricsRegistry],
});

export const billingFailuresTotal = new Counter({
  name: 'billing_failures_total',
  help: 'Billing record writes that failed (each is retried)',
  registers: [metricsRegistry],
});

export const quotaRefusalsTotal = new Counter({
  name: 'quota_refusals_total',
  help: 'Requests refused for quota or rate limits, by reason',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});

/** New requests an API process refused at its door because it was past its capacity. */
export const overloadRefusalsTotal = new Counter({
  name: 'overload_refusals_total',
  help: 'Requests refused as overloaded, by reason (streams, event_loop_lag, backlog)',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});

/** Times an async database query into `db_query_duration_seconds{query_type}`. */
export async function timeQuery<T>(queryType: string, run: () => Promise<T>): Promise<T> {
  const end = dbQueryDuration.startTimer({ query_type: queryType });
  try {
    return await run();
  } finally {
    end();
  }
}

/**
 * Long-running tool attempts in flight on this worker (start times), read at scrape
 * time by the two gauges below; a map write per tool attempt, nothing per chat.
 */
const runningTools = new Set<{ startedAt: number }>();

export const toolsRunning = new Gauge({
  name: 'tools_running',
  help: 'Long-running tool attempts in flight on this worker',
  registers: [metricsRegistry],
  collect() {
    this.set(runningTools.size);
  },
});

/**
 * Age of the oldest tool attempt in flight (0 when none). Tools heartbeat on a timer
 * whatever they do, so heartbeat age cannot tell a stuck tool; an attempt that runs far
 * past what tools take (and towards its 30 min start-to-close limit) can.
 */
export const toolOldestRunningSeconds = new Gauge({
  name: 'tool_oldest_running_seconds',
  help: 'Age of the oldest long-running tool attempt in flight on this worker',
  registers: [metricsRegistry],
  collect() {
    const now = performance.now();
    let oldest = now;
    for (const t of runningTools) oldest = Math.min(oldest, t.startedAt);
    this.set((now - oldest) / 1000);
  },
});

/** Marks a long-running tool attempt as in flight; call the result when it ends. */
export function trackRunningTool(): () => void {
  const entry = { startedAt: performance.now() };
  runningTools.add(entry);
  return () => {
    runningTools.delete(entry);
  };
}

type Recorder = 'inc' | 'dec' | 'set' | 'observe' | 'startTimer';
const RECORDERS: readonly Recorder[] = ['inc', 'dec', 'set', 'observe', 'startTimer'];
const noop = (): void => undefined;
const NOOPS: Record<Recorder, unknown> = {
  inc: noop,
  dec: noop,
  set: noop,
  observe: noop,
  startTimer: () => () => 0,
};

/** Metrics recorded on request paths (not the scrape-time gauges above). */
export const HOT_PATH_METRICS: readonly object[] = [
  chatRequestsTotal,
  chatRequestDuration,
  timeToFirstToken,
  activeSessions,
  wsConnections,
  wsFramesTotal,
  tokensConsumedTotal,
  llmRequestsTotal,
  llmFirstTokenSeconds,
  llmCostUsdTotal,
  toolExecutionsTotal,
  toolDuration,
  dbQueryDuration,
  cacheHitsTotal,
  summarizationFailuresTotal,
  billingFailuresTotal,
  quotaRefusalsTotal,
  overloadRefusalsTotal,
];

let enabled = true;
/** The recording functions replaced while metrics are off, per metric. */
const originals = new Map<object, Array<[Recorder, unknown]>>();

/** True unless {@link setMetricsEnabled} turned recording off. */
export function metricsEnabled(): boolean {
  return enabled;
}

/**
 * Turns hot-path recording on or off (`METRICS_ENABLED`; the overhead benchmark flips
 * it between blocks). Off swaps each metric's recording functions (prom-client keeps
 * some as own properties) for no-ops, so every call site costs one empty call and
 * nothing else; `/metrics` still answers, with what was recorded while on. Meant to be
 * set once at boot: flipped at run time (the benchmark), up/down gauges such as
 * `ws_connections` stay off by what changed while off.
 */
export function setMetricsEnabled(on: boolean): void {
  if (on === enabled) return;
  enabled = on;
  for (const metric of HOT_PATH_METRICS) {
    const m = metric as Record<string, unknown>;
    if (!on) {
      const saved: Array<[Recorder, unknown]> = [];
      for (const name of RECORDERS) {
        if (typeof m[name] !== 'function') continue;
        saved.push([name, Object.prototype.hasOwnProperty.call(m, name) ? m[name] : undefined]);
        m[name] = NOOPS[name];
      }
      originals.set(metric, saved);
    } else {
      for (const [name, fn] of originals.get(metric) ?? []) {
        if (fn === undefined) delete m[name];
        else m[name] = fn;
      }
      originals.delete(metric);
    }
  }
}
