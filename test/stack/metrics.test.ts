/**
 * Monitoring end to end (docs/SPEC.md "P3"): a real Prometheus scrapes a running system (the
 * API's /metrics, the worker's registry on its own port, the Temporal SDK exporter),
 * WebSocket traffic goes through it, and every PromQL expression of the Grafana
 * dashboard and of the alert rules is evaluated through Prometheus' HTTP API.
 *
 * The system runs its worker in this process (testkit/system.ts), so this process
 * installs the Temporal Runtime with its Prometheus exporter before any connection
 * (node:test runs each test file in its own process) and serves the worker registry
 * with workers/metrics-server.ts. API and worker share the process's registry here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  activeSessions,
  chatRequestsTotal,
  chatRequestDuration,
  timeToFirstToken,
} from '../../lib/metrics';
import {
  installTemporalMetrics,
  startMetricsServer,
  type MetricsServer,
} from '../../workers/metrics-server';
import { freePort } from '../../testkit/free-port';
import { ensurePrometheus, startPrometheus, type Prometheus } from '../../testkit/prometheus';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import type { TestClient } from '../../testkit/ws-client';

const ROOT = path.resolve(__dirname, '..', '..');
const DASHBOARD = path.join(ROOT, 'monitoring/grafana/dashboards/chat.json');
const ALERTS = path.join(ROOT, 'monitoring/alerts.yml');
const PROMETHEUS_YML = path.join(ROOT, 'monitoring/prometheus.yml');

/**
 * Alerts are empty while the system is healthy, so each is checked through the parts
 * of its expression without the threshold ("probes": each must appear in the rule and
 * return data). `fires`: the traffic below makes the whole expression true, so
 * Prometheus must also hold the alert as pending (its `for` has not passed).
 */
const ALERT_PROBES: Record<string, { probes: string[]; fires?: boolean }> = {
  ApiDown: { probes: ['up{job="api"}'] },
  NoWorkers: { probes: ['sum(up{job="worker"})'] },
  ChatErrorRateHigh: {
    probes: [
      'sum(rate(chat_requests_total{status=~"llm_unavailable|internal"}[5m]))',
      'sum(rate(chat_requests_total[5m]))',
    ],
    fires: true, // two llm_unavailable requests a few scrapes apart, among a few done ones
  },
  ChatTimeToFirstTokenHigh: {
    probes: [
      'histogram_quantile(0.95, sum by (le) (rate(chat_time_to_first_token_seconds_bucket[5m])))',
    ],
  },
  QuotaRefusalSpike: {
    probes: ['sum(rate(quota_refusals_total[5m]))', 'sum(rate(quota_refusals_total[1h]))'],
  },
  BillingFailures: { probes: ['sum(increase(billing_failures_total[10m]))'] },
  ToolStuck: { probes: ['max(tool_oldest_running_seconds)'] },
  ToolFailureRateHigh: {
    probes: [
      'sum by (tool_name) (rate(tool_executions_total{status="error"}[10m]))',
      'sum by (tool_name) (rate(tool_executions_total[10m]))',
    ],
  },
  TaskQueueBacklog: {
    probes: [
      'histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_workflow_task_schedule_to_start_latency_bucket[5m])))',
      'histogram_quantile(0.95, sum by (le, task_queue) (rate(temporal_activity_schedule_to_start_latency_bucket[5m])))',
    ],
  },
};

let sys: TestSystem;
let prom: Prometheus;
let workerMetrics: MetricsServer;
let temporalPort: number;

const squash = (s: string) => s.replace(/\s+/g, '');

interface MetricValues {
  get(): Promise<{
    values: Array<{ labels: Record<string, unknown>; value: number; metricName?: string }>;
  }>;
}

/** Sum of a metric's values that match (read from this process's registry). */
async function metricValue(
  metric: unknown,
  match: (v: { labels: Record<string, unknown>; metricName?: string }) => boolean,
): Promise<number> {
  const { values } = await (metric as MetricValues).get();
  return values.filter(match).reduce((n, v) => n + v.value, 0);
}

async function chat(client: TestClient, sessionId: string, content: string) {
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content });
  return client.end(requestId);
}

/** Every PromQL expression of the dashboard (panels, and panels inside rows). */
function dashboardExprs(): string[] {
  type Panel = { targets?: Array<{ expr?: string }>; panels?: Panel[] };
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const walk = (ps: Panel[]): string[] =>
    ps.flatMap((p) => [
      ...(p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])),
      ...walk(p.panels ?? []),
    ]);
  return walk(dash.panels);
}

before(async () => {
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  temporalPort = await freePort();
  installTemporalMetrics(`127.0.0.1:${temporalPort}`);
  // Prometheus starts alongside the system: it first scrapes ~5 s after it starts
  // (target discovery is batched), so ports are chosen up front.
  const starting = startPrometheus({
    // The jobs of monitoring/prometheus.yml, pointed at this system.
    jobs: {
      api: [`127.0.0.1:${apiPort}`],
      worker: [`127.0.0.1:${workerPort}`],
      'worker-temporal': [`127.0.0.1:${temporalPort}`],
    },
    selfScrapeJob: 'prometheus',
    ruleFiles: [ALERTS],
  });
  // Stopped in after() even when the system fails to start.
  starting.then((p) => (prom = p)).catch(() => undefined);
  sys = await startSystem({ env: { LLM_MAX_ATTEMPTS: '1', PORT: String(apiPort) } });
  workerMetrics = await startMetricsServer(workerPort, '127.0.0.1');
  prom = await starting;
  // Traffic only once every target has been scraped, so rates see it happen.
  await eventually('every target scraped', async () => {
    const targets = await prom.targets();
    return targets.length === 4 && targets.every((t) => t.health === 'up');
  });
});

after(async () => {
  await prom?.stop();
  await workerMetrics?.close();
  await sys?.stop();
});

describe('metrics', () => {
  it('counts each chat request once by outcome, and times it once', async () => {
    const done = () => metricValue(chatRequestsTotal, (v) => v.labels.status === 'done');
    const failed = () =>
      metricValue(chatRequestsTotal, (v) => v.labels.status === 'llm_unavailable');
    const count = (h: unknown) => metricValue(h, (v) => v.metricName?.endsWith('_count') === true);
    const before = {
      done: await done(),
      failed: await failed(),
      ttft: await count(timeToFirstToken),
      dur: await count(chatRequestDuration),
    };

    const user = sys.newUser();
    const sessionId = await sys.createSession(user.token);
    const client = await sys.connect(user.token);
    assert.equal((await chat(client, sessionId, 'hello [[tokens:5]]')).type, 'done');
    assert.equal(
      (await chat(client, sessionId, 'add [[tool:calculator {"expression":"6*7"}]]')).type,
      'done',
    );
    assert.equal(
      (await chat(client, sessionId, 'divide [[tool:calculator {"expression":"1/0"}]]')).type,
      'done',
    );
    const error = await chat(client, sessionId, 'break [[fail:500]]');
    assert.equal(error.code, 'llm_unavailable');
    // A replay of a finished request is not a new request.
    const replayId = String(error.requestId);
    client.send({ type: 'chat', requestId: replayId, sessionId, content: 'break [[fail:500]]' });
    await client.waitFor(
      (fs) => fs.filter((f) => f.requestId === replayId && f.type === 'error').length >= 2,
    );
    // A cache hit: the second read of the profile comes from the cache.
    assert.equal((await sys.http(user.token, 'GET', '/v1/me')).status, 200);
    assert.equal((await sys.http(user.token, 'GET', '/v1/me')).status, 200);
    // A frame flood: quota_refusals_total{reason="ws_flood"}. On a connection of its own:
    // the chats below must not meet the emptied frame bucket.
    const flood = await sys.connect(user.token);
    for (let i = 0; i < sys.config.wsFrameBurst + 10; i++) flood.send({ type: 'ping' });
    await flood.waitFor((fs) => fs.some((f) => f.type === 'error' && f.code === 'rate_limited'));
    await flood.close();

    assert.equal((await done()) - before.done, 3);
    assert.equal((await failed()) - before.failed, 1);
    assert.equal(
      (await count(timeToFirstToken)) - before.ttft,
      3,
      'first token of each done request',
    );
    assert.equal((await count(chatRequestDuration)) - before.dur, 4, 'end of each request');

    // A second round once Prometheus has scraped the first, so rates over the scraped
    // series are not zero.
    const failedSoFar = await failed();
    await eventually(
      'the first round scraped',
      async () =>
        Number(
          (await prom.query('max(chat_requests_total{status="llm_unavailable"})'))[0]?.value[1],
        ) >= failedSoFar,
    );
    assert.equal((await chat(client, sessionId, 'again [[tokens:3]]')).type, 'done');
    assert.equal(
      (await chat(client, sessionId, 'break again [[fail:500]]')).code,
      'llm_unavailable',
    );
    assert.equal((await sys.http(user.token, 'GET', '/v1/me')).status, 200);
    await client.close();
  });

  it('active_sessions counts sessions with a request in flight, released when the socket closes', async () => {
    const gauge = () => metricValue(activeSessions, () => true);
    const base = await gauge();
    const user = sys.newUser();
    const sessionId = await sys.createSession(user.token);
    const client = await sys.connect(user.token);
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'slow [[tokens:100]] [[delay_ms:100]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && f.type === 'delta'));
    assert.equal(await gauge(), base + 1);
    await client.close();
    await eventually('active_sessions back to its base', async () => (await gauge()) === base);
  });

  it('every expression of the Grafana dashboard returns data from Prometheus', async () => {
    const exprs = dashboardExprs();
    assert.ok(exprs.length >= 20, `dashboard has ${exprs.length} expressions`);
    let empty: string[] = [];
    await eventually(
      'dashboard expressions',
      async () => {
        empty = [];
        for (const e of exprs) if ((await prom.query(e)).length === 0) empty.push(e);
        return empty.length === 0;
      },
      { timeoutMs: 25_000, everyMs: 500 },
    ).catch(() => undefined);
    assert.deepEqual(empty, [], 'expressions without data');
  });

  it('alert rules load and evaluate; their probes return data; the error-rate alert goes pending', async () => {
    const rules = await prom.rules();
    const alerts = rules.filter((r) => r.type === 'alerting');
    assert.deepEqual(
      alerts.map((r) => r.name).sort(),
      Object.keys(ALERT_PROBES).sort(),
      'every alert has probes',
    );
    const alertsText = squash(readFileSync(ALERTS, 'utf8'));
    for (const rule of alerts) {
      for (const probe of ALERT_PROBES[rule.name]?.probes ?? []) {
        assert.ok(
          alertsText.includes(squash(probe)),
          `${rule.name}: probe not in its rule: ${probe}`,
        );
        assert.ok((await prom.query(probe)).length > 0, `${rule.name}: no data for ${probe}`);
      }
    }
    await eventually(
      'rules evaluated',
      async () => (await prom.rules()).every((r) => r.health === 'ok'),
      10_000,
    ).catch(() => undefined);
    for (const r of await prom.rules())
      assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
    for (const [name, spec] of Object.entries(ALERT_PROBES)) {
      if (!spec.fires) continue;
      const rule = alerts.find((r) => r.name === name)!;
      // The last failure is in Prometheus after its next scrape.
      await eventually(
        `${name} expression holds`,
        async () => (await prom.query(rule.query)).length > 0,
        10_000,
      );
      await eventually(
        `${name} pending`,
        async () => (await prom.rules()).find((r) => r.name === name)?.state === 'pending',
        10_000,
      );
    }
  });

  it('scrapes every job of monitoring/prometheus.yml, all up', async () => {
    const jobs = [...readFileSync(PROMETHEUS_YML, 'utf8').matchAll(/job_name:\s*(\S+)/g)].map(
      (m) => m[1],
    );
    const targets = await prom.targets();
    assert.deepEqual([...new Set(targets.map((t) => t.job))].sort(), [...jobs].sort());
    for (const t of targets) assert.equal(t.health, 'up', `${t.job}: ${t.lastError}`);
  });

  it('/metrics of the API, the worker and the Temporal SDK carry no id labels', async () => {
    const forbidden = new Set([
      'userid',
      'user_id',
      'sessionid',
      'session_id',
      'requestid',
      'request_id',
    ]);
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    const urls = [
      `${sys.baseUrl}/metrics`,
      `http://127.0.0.1:${workerMetrics.port}/metrics`,
      `http://127.0.0.1:${temporalPort}/metrics`,
    ];
    for (const url of urls) {
      const text = await (await fetch(url)).text();
      const labels = [...text.matchAll(/[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)];
      assert.ok(labels.length > 0, `${url} has labelled series`);
      for (const [, name = '', value = ''] of labels) {
        assert.ok(!forbidden.has(name.toLowerCase()), `${url}: id label name ${name}`);
        assert.ok(!uuid.test(value), `${url}: ${name}="${value}" looks like an id`);
      }
    }
  });

  it('promtool accepts monitoring/prometheus.yml and monitoring/alerts.yml', async () => {
    const promtool = path.join(path.dirname(await ensurePrometheus()), 'promtool');
    execFileSync(promtool, ['check', 'config', PROMETHEUS_YML], { stdio: 'pipe' });
    execFileSync(promtool, ['check', 'rules', ALERTS], { stdio: 'pipe' });
  });
});
