/**
 * Benchmark of token metering (docs/SPEC.md "P1 Token metering") on the real local stack:
 *
 * 1. reserve + settle latency: the two Redis scripts a chat request pays around its LLM
 *    call (p50/p99), alone and as the activities run them (with the override lookup in
 *    Postgres and the `status`/`usage` events);
 * 2. billing throughput: a burst of 1,000 usage records through 1,000 billing
 *    workflows on the Temporal dev server, until all rows are in Postgres;
 * 3. end to end: a burst of chat requests over WebSockets; the sum of the ledger rows
 *    must equal the sum of the `usage` frames the clients received (asserted).
 *
 * `npx tsx bench/quota.ts` prints a table and the JSON result.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createActivities } from '../activities';
import { billingWorkflowId, type UsageRecord } from '../contracts/billing';
import { createLogger } from '../lib/logger';
import { migrate } from '../store/migrate';
import { UsageCounters } from '../usage/counters';
import { ledgerBase } from '../usage/ledger';
import { startSystem, type TestSystem } from '../testkit/system';
import { createActivityDeps } from '../workers/deps';
import { percentile, round, runStandalone, type BenchResult } from './result';

const LATENCY_ROUNDS = 2000;
const ACTIVITY_ROUNDS = 300;
const BILLING_RECORDS = 1000;
const START_CONCURRENCY = 100;
const CHAT_USERS = 10;
const CHATS_PER_USER = 10;
const LEDGER_TIMEOUT_MS = 60_000;

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function waitFor<T>(
  probe: () => Promise<T | false>,
  what: string,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** 1. The scripts alone, then the activities around an LLM call. */
async function latency(sys: TestSystem) {
  const counters = new UsageCounters(sys.api.deps.redis);
  const userId = randomUUID();
  const limits = { daily: Number.MAX_SAFE_INTEGER, monthly: Number.MAX_SAFE_INTEGER };
  const pairs: number[] = [];
  const reserves: number[] = [];
  for (let i = 0; i < LATENCY_ROUNDS; i++) {
    const id = randomUUID();
    const now = new Date();
    const t0 = process.hrtime.bigint();
    await counters.reserve(
      userId,
      id,
      1200,
      limits,
      60_000,
      now,
      ledgerBase(sys.api.deps.db, userId, now),
    );
    reserves.push(ms(t0));
    await counters.settle(userId, 's', id, 150, now);
    pairs.push(ms(t0));
  }
  const owned = createActivityDeps(sys.config, createLogger({ service: 'bench' }, 'error'));
  const acts = createActivities(owned.deps);
  const activityPairs: number[] = [];
  try {
    const user = randomUUID();
    for (let i = 0; i < ACTIVITY_ROUNDS; i++) {
      const requestId = randomUUID();
      const t0 = process.hrtime.bigint();
      const r = await acts.reserveQuota({ userId: user, requestId, plan: 'pro', amount: 1200 });
      await acts.settleUsage({
        userId: user,
        requestId,
        sessionId: randomUUID(),
        model: 'bench',
        plan: 'pro',
        usage: { promptTokens: 100, completionTokens: 50, totalTokens: 150, estimated: false },
        dailyLimit: r.dailyLimit,
      });
      activityPairs.push(ms(t0));
    }
  } finally {
    await owned.close();
  }
  return {
    reserve_p50_ms: round(percentile(reserves, 50), 3),
    reserve_settle_p50_ms: round(percentile(pairs, 50), 3),
    reserve_settle_p99_ms: round(percentile(pairs, 99), 3),
    activities_reserve_settle_p50_ms: round(percentile(activityPairs, 50), 3),
    activities_reserve_settle_p99_ms: round(percentile(activityPairs, 99), 3),
  };
}

/** 2. 1,000 billing workflows at once; rows per second until all landed. */
async function billingBurst(sys: TestSystem) {
  const userId = randomUUID();
  const records: UsageRecord[] = Array.from({ length: BILLING_RECORDS }, (_, i) => ({
    userId,
    requestId: randomUUID(),
    sessionId: randomUUID(),
    model: 'bench',
    promptTokens: 100,
    completionTokens: i % 50,
    totalTokens: 100 + (i % 50),
    estimated: false,
    createdAt: new Date().toISOString(),
  }));
  const expected = records.reduce((s, r) => s + r.totalTokens, 0);
  const t0 = process.hrtime.bigint();
  let next = 0;
  const starter = async () => {
    while (next < records.length) {
      const r = records[next++]!;
      await sys.temporal.workflow.start('billingWorkflow', {
        workflowId: billingWorkflowId(r.userId, r.requestId),
        taskQueue: sys.config.taskQueues.billing,
        args: [r],
      });
    }
  };
  await Promise.all(Array.from({ length: START_CONCURRENCY }, starter));
  const startedMs = ms(t0);
  const sum = await waitFor(
    async () => {
      const { rows } = await sys.api.deps.db.query<{ n: string; total: string | null }>(
        'SELECT count(*) AS n, SUM(total_tokens) AS total FROM usage_records WHERE user_id = $1',
        [userId],
      );
      return Number(rows[0]?.n) === BILLING_RECORDS && Number(rows[0]?.total);
    },
    'billing rows',
    LEDGER_TIMEOUT_MS,
  );
  const totalMs = ms(t0);
  assert.equal(sum, expected, 'billing burst: every record once');
  return {
    billing_records: BILLING_RECORDS,
    billing_start_s: round(startedMs / 1000, 2),
    billing_all_rows_s: round(totalMs / 1000, 2),
    billing_rows_per_s: round(BILLING_RECORDS / (totalMs / 1000), 1),
  };
}

/** 3. Chat requests over WebSockets: ledger sum == usage frames sum. */
async function endToEnd(sys: TestSystem) {
  const users = Array.from({ length: CHAT_USERS }, () => sys.newUser('pro'));
  const t0 = process.hrtime.bigint();
  const perUser = await Promise.all(
    users.map(async (u) => {
      const sessionId = await sys.createSession(u.token);
      const client = await sys.connect(u.token);
      const ids = Array.from({ length: CHATS_PER_USER }, () => randomUUID());
      ids.forEach((requestId, i) =>
        client.send({
          type: 'chat',
          requestId,
          sessionId,
          content: `burst ${i} [[tokens:${10 + i}]]`,
        }),
      );
      const ends = await Promise.all(ids.map((id) => client.end(id, 60_000)));
      const usage = client.frames.filter((f) => f.type === 'usage');
      await client.close();
      return {
        done: ends.filter((e) => e.type === 'done').length,
        frames: usage.length,
        tokens: usage.reduce((s, f) => s + Number(f.totalTokens), 0),
      };
    }),
  );
  const repliesMs = ms(t0);
  const framesSum = perUser.reduce((s, u) => s + u.tokens, 0);
  const frames = perUser.reduce((s, u) => s + u.frames, 0);
  const done = perUser.reduce((s, u) => s + u.done, 0);
  const ids = users.map((u) => u.userId);
  const t1 = process.hrtime.bigint();
  const ledgerSum = await waitFor(
    async () => {
      const { rows } = await sys.api.deps.db.query<{ n: string; total: string | null }>(
        'SELECT count(*) AS n, SUM(total_tokens) AS total FROM usage_records WHERE user_id = ANY($1::uuid[])',
        [ids],
      );
      return Number(rows[0]?.n) === frames && Number(rows[0]?.total ?? 0);
    },
    'ledger rows of the chat burst',
    LEDGER_TIMEOUT_MS,
  );
  assert.equal(frames, CHAT_USERS * CHATS_PER_USER, 'one usage frame per request');
  assert.equal(ledgerSum, framesSum, 'sum of Postgres rows == sum of usage frames');
  return {
    e2e_requests: CHAT_USERS * CHATS_PER_USER,
    e2e_done: done,
    e2e_usage_frames_tokens: framesSum,
    e2e_ledger_tokens: ledgerSum,
    e2e_ledger_equals_frames: ledgerSum === framesSum ? 'yes' : 'NO',
    e2e_replies_s: round(repliesMs / 1000, 2),
    e2e_ledger_lag_after_last_reply_ms: round(ms(t1), 0),
  };
}

/** The benchmark. */
export async function run(): Promise<BenchResult> {
  const sys = await startSystem({ env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  try {
    await migrate(sys.config.databaseUrl);
    const t0 = process.hrtime.bigint();
    const metrics = {
      ...(await latency(sys)),
      ...(await billingBurst(sys)),
      ...(await endToEnd(sys)),
      wall_s: 0,
    };
    metrics.wall_s = round(ms(t0) / 1000, 1);
    return {
      name: 'quota',
      command: 'npx tsx bench/quota.ts',
      metrics,
      notes: [
        `reserve_settle: the reserve and settle Redis scripts back to back, ${LATENCY_ROUNDS} sequential rounds, one client.`,
        `activities_reserve_settle: reserveQuota + settleUsage as the chat workflow runs them (override lookup in Postgres, status and usage events), ${ACTIVITY_ROUNDS} rounds.`,
        `billing: ${BILLING_RECORDS} billingWorkflow starts (${START_CONCURRENCY} in flight) on the dev server, one in-process worker; rows/s = records / (first start -> last row).`,
        `e2e: ${CHAT_USERS} WebSocket clients x ${CHATS_PER_USER} chat requests at once; asserts the Postgres ledger sum equals the sum of usage frames.`,
      ],
    };
  } finally {
    await sys.stop();
  }
}

if (require.main === module) runStandalone(run);
