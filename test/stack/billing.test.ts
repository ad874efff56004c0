/**
 * Billing on the real stack: every request's usage lands in the Postgres ledger once,
 * written by the chat workflow's own reply step (one workflow execution per request);
 * when Postgres stays down past that step's budget the record goes to a billing
 * workflow that survives the outage and can be re-run by ops without double counting.
 * Counters are bumped once and can be rebuilt from the ledger.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { billingWorkflowId, type UsageRecord } from '../../contracts/billing';
import { chatWorkflowId } from '../../contracts/chat';
import { createPool } from '../../store/db';
import { createLogger } from '../../lib/logger';
import { billingFailuresTotal, tokensConsumedTotal } from '../../lib/metrics';
import { migrate } from '../../store/migrate';
import { UsageCounters, usageKeys } from '../../usage/counters';
import { insertUsage, ledgerBase } from '../../usage/ledger';
import { billingCommands, listFailedBilling } from '../../scripts/ops/billing';
import { createActivityDeps } from '../../workers/deps';
import { createWorkers, runWorkers, shutdownWorkers } from '../../workers/worker';
import { startSystem, uniqueTaskQueues, type TestSystem } from '../../testkit/system';
import { startThrowawayPostgres } from '../../testkit/throwaway-pg';
import { eventually } from '../../testkit/poll';
import { counterValue, ledgerRows, waitForRows } from '../../testkit/usage';

const quiet = createLogger({ service: 'test' }, 'error');
let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

function record(userId: string, tokens = 30): UsageRecord {
  return {
    userId,
    requestId: randomUUID(),
    sessionId: randomUUID(),
    model: 'gpt-4o-mini',
    promptTokens: tokens - 10,
    completionTokens: 10,
    totalTokens: tokens,
    estimated: false,
    createdAt: new Date().toISOString(),
  };
}

describe('billing', () => {
  it("records a chat's usage once, with every field, in the chat workflow itself: one execution", async () => {
    const { userId, token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    const prompt = await counterValue(tokensConsumedTotal, { type: 'prompt' });
    const completion = await counterValue(tokensConsumedTotal, { type: 'completion' });
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'bill me [[tokens:25]]' });
    await client.end(requestId);
    const usage = client.of(requestId).find((f) => f.type === 'usage');
    const [row] = await waitForRows(sys.api.deps.db, userId, 1);
    assert.deepEqual(
      {
        request: row?.request_id,
        session: row?.session_id,
        model: row?.model,
        prompt: row?.prompt_tokens,
        completion: row?.completion_tokens,
        total: row?.total_tokens,
        estimated: row?.estimated,
      },
      {
        request: requestId,
        session: sessionId,
        model: sys.config.llm.model,
        prompt: usage?.promptTokens,
        completion: 25,
        total: usage?.totalTokens,
        estimated: false,
      },
    );
    assert.equal(row?.created_at.toISOString().slice(0, 10), new Date().toISOString().slice(0, 10));
    // No second execution: no billing workflow, no child started by the chat workflow.
    await assert.rejects(
      sys.temporal.workflow.getHandle(billingWorkflowId(userId, requestId)).describe(),
      WorkflowNotFoundError,
    );
    const history = await sys.temporal.workflow
      .getHandle(chatWorkflowId(userId, requestId))
      .fetchHistory();
    const types = (history.events ?? []).map((e) => String(e.eventType));
    assert.ok(!types.some((t) => /CHILD_WORKFLOW/.test(t)), `no child workflow: ${types.join()}`);
    assert.equal(
      await counterValue(tokensConsumedTotal, { type: 'prompt' }),
      prompt + Number(usage?.promptTokens),
    );
    assert.equal(await counterValue(tokensConsumedTotal, { type: 'completion' }), completion + 25);
    await client.close();
  });

  it('settle and billing run twice for one request: counters bumped once, one row', async () => {
    const owned = createActivityDeps(sys.config, quiet);
    try {
      const acts = createActivities(owned.deps);
      const { userId } = sys.newUser();
      const r = record(userId);
      const settle = () =>
        acts.settleUsage({
          userId,
          requestId: r.requestId,
          sessionId: r.sessionId,
          model: r.model,
          plan: 'free',
          usage: { promptTokens: 20, completionTokens: 10, totalTokens: 30, estimated: false },
          dailyLimit: 50_000,
        });
      const first = await settle();
      const second = await settle();
      assert.equal(second.settledAt, first.settledAt, 'the first settle decides the time');
      const counters = new UsageCounters(sys.api.deps.redis);
      assert.equal(await counters.dailyUsed(userId, new Date()), 30);
      assert.equal(await counters.monthlyUsed(userId, new Date()), 30);
      assert.equal(await counters.sessionUsed(userId, r.sessionId), 30);
      const events = await sys.api.deps.redis.xrange(
        `chat:{req:${userId}:${r.requestId}}:events`,
        '-',
        '+',
      );
      assert.equal(
        events.filter(([, f]) => String(f[1]).includes('"usage"')).length,
        1,
        'one usage event',
      );

      assert.deepEqual(await acts.recordUsage(r), { inserted: true });
      assert.deepEqual(await acts.recordUsage(r), { inserted: false });
      // The whole workflow again, under the same id: still one row.
      const again = await sys.temporal.workflow.execute('billingWorkflow', {
        workflowId: billingWorkflowId(userId, r.requestId),
        taskQueue: sys.config.taskQueues.billing,
        args: [r],
      });
      assert.deepEqual(again, { inserted: false });
      assert.equal((await ledgerRows(sys.api.deps.db, userId)).length, 1);
    } finally {
      await owned.close();
    }
  });

  it('keeps retrying while Postgres is down, and the rows appear once it is back', async () => {
    const pg = await startThrowawayPostgres();
    const url = `${pg.url}/billing_outage`;
    await migrate(url);
    const queues = uniqueTaskQueues();
    const owned = createActivityDeps(
      { ...sys.config, databaseUrl: url, taskQueues: queues },
      quiet,
    );
    const connection = await NativeConnection.connect({ address: sys.config.temporalAddress });
    const workers = await createWorkers({
      connection,
      namespace: sys.config.temporalNamespace,
      taskQueues: queues,
      deps: owned.deps,
      serve: ['billing'],
      options: { shutdownGraceTime: '1s' },
    });
    const running = runWorkers(workers);
    const ledger = createPool(url, 2);
    try {
      await pg.stop();
      const failuresBefore = await counterValue(billingFailuresTotal);
      const records = [1, 2, 3].map(() => record(randomUUID(), 40));
      const handles = await Promise.all(
        records.map((r) =>
          sys.temporal.workflow.start('billingWorkflow', {
            workflowId: billingWorkflowId(r.userId, r.requestId),
            taskQueue: queues.billing,
            args: [r],
          }),
        ),
      );
      await eventually(
        'two failed attempts per record',
        async () => (await counterValue(billingFailuresTotal)) >= failuresBefore + 6,
        30_000,
      );
      for (const h of handles) assert.equal((await h.describe()).status.name, 'RUNNING');
      await pg.start();
      const results = await Promise.all(handles.map((h) => h.result()));
      assert.deepEqual(results, [{ inserted: true }, { inserted: true }, { inserted: true }]);
      const { rows } = await ledger.query<{ n: string; total: string }>(
        'SELECT count(*) AS n, SUM(total_tokens) AS total FROM usage_records',
      );
      assert.deepEqual(rows[0], { n: '3', total: '120' });
    } finally {
      await ledger.end();
      shutdownWorkers(workers);
      await running;
      await connection.close();
      await owned.close();
      await pg.destroy();
    }
  });

  it('rebuilds lost counters from the ledger, counting settles that landed meanwhile once', async () => {
    const counters = new UsageCounters(sys.api.deps.redis);
    const { userId } = sys.newUser();
    const now = new Date();
    // The ledger holds two earlier requests; a third settled after Redis lost its
    // counters and its billing row has already landed too.
    const early = [record(userId, 500), record(userId, 700)];
    const late = record(userId, 100);
    for (const r of [...early, late]) await insertUsage(sys.api.deps.db, r);
    await counters.settle(userId, late.sessionId, late.requestId, late.totalTokens, now);
    const verdict = await counters.reserve(
      userId,
      randomUUID(),
      10,
      { daily: 10_000, monthly: 100_000 },
      60_000,
      now,
      ledgerBase(sys.api.deps.db, userId, now),
    );
    assert.ok(verdict.ok);
    assert.equal(verdict.dailyUsed, 1300, 'ledger + late settle, the late one once');
    assert.equal(verdict.monthlyUsed, 1300);
    const day = await sys.api.deps.redis.hgetall(usageKeys(userId, now).daily);
    assert.deepEqual(day, { used: '1300', h: '1' });
    assert.equal(await sys.api.deps.redis.exists(usageKeys(userId, now).dailyUnhydrated), 0);
  });
});

describe('ops: failed billing workflows', () => {
  it('lists them and retries them with the same id and input, without double rows', async () => {
    const { userId, token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'billed once [[tokens:15]]' });
    await client.end(requestId);
    const [billed] = await waitForRows(sys.api.deps.db, userId, 1);
    await client.close();

    // Make billing runs fail: one for the request already billed (a re-run after its
    // row landed), one for a record never written. Both are terminated before any
    // worker picks them up (their queue has none).
    const parked = `parked-${randomUUID()}`;
    const neverWritten = record(userId, 33);
    const original: UsageRecord = {
      userId,
      requestId,
      sessionId,
      model: billed!.model,
      promptTokens: billed!.prompt_tokens,
      completionTokens: billed!.completion_tokens,
      totalTokens: billed!.total_tokens,
      estimated: billed!.estimated,
      createdAt: billed!.created_at.toISOString(),
    };
    const ids: string[] = [];
    for (const r of [original, neverWritten]) {
      const h = await sys.temporal.workflow.start('billingWorkflow', {
        workflowId: billingWorkflowId(r.userId, r.requestId),
        taskQueue: parked,
        args: [r],
      });
      await h.terminate('test: a failed billing run');
      ids.push(h.workflowId);
    }
    await eventually('terminated runs listed', async () => {
      const failed = await listFailedBilling(sys.temporal);
      return ids.every((id) =>
        failed.some((f) => f.workflowId === id && f.status === 'TERMINATED'),
      );
    });

    const out: string[] = [];
    const ctx = { config: sys.config, temporal: sys.temporal, out: (l: string) => out.push(l) };
    for (const id of ids)
      assert.equal(await billingCommands['billing:retry']!.run([id], ctx), 0, out.join('\n'));
    const results = await Promise.all(
      ids.map((id) => sys.temporal.workflow.getHandle(id).result()),
    );
    assert.deepEqual(results, [{ inserted: false }, { inserted: true }]);
    const rows = await ledgerRows(sys.api.deps.db, userId);
    assert.equal(rows.length, 2, 'the billed request still has one row; the other got its row');
    assert.equal(rows.find((r) => r.request_id === requestId)?.total_tokens, billed?.total_tokens);
    const failed = await listFailedBilling(sys.temporal);
    assert.ok(!ids.some((id) => failed.some((f) => f.workflowId === id)), 'no longer listed');
    // A completed workflow is not retried.
    assert.equal(await billingCommands['billing:retry']!.run([ids[0]!], ctx), 1);
  });
});
