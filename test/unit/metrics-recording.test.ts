/**
 * The metric plumbing without the stack: the `METRICS_ENABLED` switch (hot-path
 * recording off and back on), the running-tool gauges behind the ToolStuck alert, and
 * the worker's /metrics server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config';
import {
  chatRequestDuration,
  chatRequestsTotal,
  dbQueryDuration,
  metricsEnabled,
  metricsRegistry,
  setMetricsEnabled,
  timeQuery,
  trackRunningTool,
  wsConnections,
} from '../../lib/metrics';
import { startMetricsServer } from '../../workers/metrics-server';
import { eventually } from '../../testkit/poll';

async function value(metric: unknown, name?: string): Promise<number> {
  const { values } = await (
    metric as { get(): Promise<{ values: Array<{ value: number; metricName?: string }> }> }
  ).get();
  return values.filter((v) => !name || v.metricName === name).reduce((n, v) => n + v.value, 0);
}

describe('METRICS_ENABLED', () => {
  it('is read from the environment: on by default, false/0 turn it off, anything else is refused', () => {
    assert.equal(loadConfig({}).metricsEnabled, true);
    assert.equal(loadConfig({ METRICS_ENABLED: 'false' }).metricsEnabled, false);
    assert.equal(loadConfig({ METRICS_ENABLED: '0' }).metricsEnabled, false);
    assert.equal(loadConfig({ METRICS_ENABLED: 'TRUE' }).metricsEnabled, true);
    assert.throws(() => loadConfig({ METRICS_ENABLED: 'nope' }), ConfigError);
  });

  it('off makes hot-path recording a no-op; on records again', async () => {
    const labels = { method: 'ws', status: 'test_switch' };
    const count = () => value(chatRequestsTotal);
    const durations = () => value(chatRequestDuration, 'chat_request_duration_seconds_count');
    const queries = () => value(dbQueryDuration, 'db_query_duration_seconds_count');
    const before = {
      count: await count(),
      durations: await durations(),
      queries: await queries(),
      ws: await value(wsConnections),
    };
    try {
      setMetricsEnabled(false);
      assert.equal(metricsEnabled(), false);
      chatRequestsTotal.inc(labels);
      chatRequestDuration.observe({ method: 'ws' }, 0.5);
      wsConnections.inc();
      assert.equal(await timeQuery('test_switch', () => Promise.resolve(7)), 7);
      assert.deepEqual(
        {
          count: await count(),
          durations: await durations(),
          queries: await queries(),
          ws: await value(wsConnections),
        },
        before,
      );
    } finally {
      setMetricsEnabled(true);
    }
    assert.equal(metricsEnabled(), true);
    chatRequestsTotal.inc(labels);
    chatRequestDuration.observe({ method: 'ws' }, 0.5);
    await timeQuery('test_switch', () => Promise.resolve(7));
    assert.equal(await count(), before.count + 1);
    assert.equal(await durations(), before.durations + 1);
    assert.equal(await queries(), before.queries + 1);
  });
});

describe('running tools', () => {
  it('tools_running and tool_oldest_running_seconds follow tool attempts in flight', async () => {
    const running = async () => {
      const text = await metricsRegistry.getSingleMetricAsString('tools_running');
      return Number(/^tools_running (\S+)$/m.exec(text)?.[1]);
    };
    const oldest = async () => {
      const text = await metricsRegistry.getSingleMetricAsString('tool_oldest_running_seconds');
      return Number(/^tool_oldest_running_seconds (\S+)$/m.exec(text)?.[1]);
    };
    assert.equal(await running(), 0);
    assert.equal(await oldest(), 0);
    const endFirst = trackRunningTool();
    await eventually('the first attempt 25 ms old', async () => (await oldest()) >= 0.025, {
      everyMs: 5,
    });
    const endSecond = trackRunningTool();
    assert.equal(await running(), 2);
    assert.ok((await oldest()) >= 0.025, 'the age of the first (oldest) attempt');
    endFirst();
    assert.equal(await running(), 1);
    assert.ok((await oldest()) < 0.025, 'now the second one');
    endSecond();
    endSecond(); // ending twice is harmless
    assert.equal(await running(), 0);
    assert.equal(await oldest(), 0);
  });
});

describe('worker metrics server', () => {
  it('serves the registry on GET /metrics and nothing else', async () => {
    const server = await startMetricsServer(0, '127.0.0.1');
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const body = await res.text();
      assert.match(body, /^# TYPE chat_requests_total counter$/m);
      assert.match(body, /^process_cpu_user_seconds_total /m, 'Node default metrics');
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/`)).status, 404);
      assert.equal(
        (await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status,
        404,
      );
    } finally {
      await server.close();
    }
  });
});
