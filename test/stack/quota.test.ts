/**
 * Token quotas on the real stack: reservation before the LLM call, settlement on every
 * path, no overshoot under concurrency, reservation TTL, the usage endpoint, and
 * counters rebuilt from the ledger (rate limits: test/stack/rate-limit.test.ts).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createActivities } from '../../activities';
import { FAILURE_TYPES, failureType } from '../../contracts/errors';
import { createLogger } from '../../lib/logger';
import { quotaRefusalsTotal } from '../../lib/metrics';
import { UsageCounters, usageKeys } from '../../usage/counters';
import { createActivityDeps } from '../../workers/deps';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import { billingStarted, counterValue, deleteUsageKeys, waitForRows } from '../../testkit/usage';
import type { Frame, TestClient } from '../../testkit/ws-client';

const DAILY = 2000;
const MAX_COMPLETION = 100;

let sys: TestSystem;
let counters: UsageCounters;

before(async () => {
  sys = await startSystem({
    env: {
      FREE_DAILY_TOKENS: String(DAILY),
      MAX_COMPLETION_TOKENS: String(MAX_COMPLETION),
      LLM_MAX_ATTEMPTS: '2',
    },
  });
  counters = new UsageCounters(sys.api.deps.redis);
});
after(async () => {
  await sys?.stop();
});

const newChat = () => sys.newChat();

const llmCallsWith = (text: string) =>
  sys.llm.stats.calls.filter((c) => c.lastUserMessage.includes(text)).length;

function usageOf(client: TestClient, requestId: string): Frame | undefined {
  return client.of(requestId).find((f) => f.type === 'usage');
}

describe('quota', () => {
  it('refuses with quota_exceeded, before any LLM call, once the daily quota is used', async () => {
    const { client, sessionId, userId } = await newChat();
    const refusalsBefore = await counterValue(quotaRefusalsTotal, { reason: 'daily' });
    let spent = 0;
    let admitted = 0;
    let refused: { frame: Frame; requestId: string } | undefined;
    for (let i = 0; i < 30 && !refused; i++) {
      const requestId = randomUUID();
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: `spend ${requestId} [[tokens:100]]`,
      });
      const end = await client.end(requestId);
      if (end.type === 'done') {
        admitted++;
        spent += Number(usageOf(client, requestId)?.totalTokens);
      } else refused = { frame: end, requestId };
    }
    assert.ok(refused, 'a request was refused');
    assert.ok(admitted >= 2, `some requests were admitted first (${admitted})`);
    const { frame, requestId } = refused;
    assert.equal(frame.code, 'quota_exceeded');
    assert.match(String(frame.message), /daily token quota exceeded/i);
    assert.match(String(frame.message), /00:00 UTC/);
    const frames = client.of(requestId);
    assert.ok(frames.some((f) => f.type === 'status' && f.state === 'checking_quota'));
    assert.ok(!frames.some((f) => f.type === 'status' && f.state === 'calling_llm'));
    assert.ok(!frames.some((f) => f.type === 'usage'), 'no usage frame for a refused request');
    assert.equal(llmCallsWith(requestId), 0, 'no LLM call');
    assert.equal(await counterValue(quotaRefusalsTotal, { reason: 'daily' }), refusalsBefore + 1);
    assert.equal(await billingStarted(sys.temporal, userId, requestId), false, 'no billing');
    assert.equal(await counters.reserved(userId), 0, 'nothing left reserved');
    assert.equal(await counters.dailyUsed(userId, new Date()), spent);
    assert.ok(spent <= DAILY);
    await waitForRows(sys.api.deps.db, userId, admitted);
    await client.close();
  });

  it('a per-user override applies, and the monthly limit refuses with its own message', async () => {
    const { client, sessionId, userId } = await newChat();
    await sys.api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens, monthly_tokens) VALUES ($1, NULL, 50)',
      [userId],
    );
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: `monthly ${requestId}` });
    const end = await client.end(requestId);
    assert.equal(end.code, 'quota_exceeded');
    assert.match(String(end.message), /monthly token quota exceeded/i);
    assert.match(String(end.message), /00:00 UTC/);
    assert.equal(llmCallsWith(requestId), 0);
    const res = await sys.http(sys.newUser().token, 'GET', '/v1/me/usage');
    assert.equal(res.body.quota.monthly.limit, 30 * DAILY, 'monthly default: 30x daily');
    await client.close();
  });

  it('20 parallel requests never admit more than the quota', async () => {
    const user = sys.newUser();
    const sessions = await Promise.all(
      Array.from({ length: 20 }, () => sys.createSession(user.token)),
    );
    const client = await sys.connect(user.token);
    const ids = sessions.map(() => randomUUID());
    ids.forEach((requestId, i) =>
      client.send({
        type: 'chat',
        requestId,
        sessionId: sessions[i],
        content: `race ${requestId} [[tokens:100]]`,
      }),
    );
    const ends = await Promise.all(ids.map((id) => client.end(id, 60_000)));
    const done = ids.filter((_, i) => ends[i]?.type === 'done');
    const refused = ends.filter((e) => e.type === 'error');
    assert.ok(done.length >= 1, 'some admitted');
    assert.ok(refused.length >= 1, 'some refused');
    assert.ok(
      refused.every((e) => e.code === 'quota_exceeded'),
      JSON.stringify(refused[0]),
    );
    const used = done.reduce((sum, id) => sum + Number(usageOf(client, id)?.totalTokens), 0);
    assert.ok(used <= DAILY, `used ${used} <= ${DAILY}`);
    assert.equal(await counters.dailyUsed(user.userId, new Date()), used);
    const calls = ids.reduce((n, id) => n + llmCallsWith(id), 0);
    assert.equal(calls, done.length, 'an LLM call only for admitted requests');
    assert.equal(await counters.reserved(user.userId), 0);
    await client.close();
  });

  it('an LLM failure releases the reservation and bills nothing', async () => {
    const { client, sessionId, userId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: `broken ${requestId} [[fail:500]]`,
    });
    const end = await client.end(requestId, 30_000);
    assert.equal(end.code, 'llm_unavailable');
    assert.equal(await counters.reserved(userId), 0);
    assert.equal(await counters.dailyUsed(userId, new Date()), 0);
    assert.equal(await billingStarted(sys.temporal, userId, requestId), false);
    await client.close();
  });

  it('a cancel releases the reservation', async () => {
    const { client, sessionId, userId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'slow [[tokens:100]] [[delay_ms:100]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && f.type === 'delta'));
    assert.ok((await counters.reserved(userId)) > 0, 'held while the LLM streams');
    client.send({ type: 'cancel', requestId });
    const end = await client.end(requestId);
    assert.equal(end.code, 'cancelled');
    assert.equal(await counters.reserved(userId), 0);
    assert.equal(await counters.dailyUsed(userId, new Date()), 0, 'the provider reported nothing');
    await client.close();
  });

  it('a client that goes away still gets its request settled and billed', async () => {
    const { client, sessionId, userId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'leaving [[tokens:40]] [[delay_ms:20]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && f.type === 'delta'));
    await client.close();
    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows[0]?.completion_tokens, 40);
    assert.equal(await counters.dailyUsed(userId, new Date()), rows[0]?.total_tokens);
    assert.equal(await counters.reserved(userId), 0);
  });

  it('a reservation nobody settles expires after its TTL', async () => {
    const owned = createActivityDeps(sys.config, createLogger({ service: 'test' }, 'error'));
    try {
      const acts = createActivities({
        ...owned.deps,
        limits: { ...owned.deps.limits, freeDailyTokens: 1000, reservationTtlSeconds: 1 },
      });
      const { userId } = sys.newUser();
      const reserve = (amount: number) =>
        acts.reserveQuota({ userId, requestId: randomUUID(), plan: 'free', amount });
      await reserve(800);
      await assert.rejects(reserve(800), (err) => failureType(err) === FAILURE_TYPES.QuotaExceeded);
      await new Promise((r) => setTimeout(r, 1200)); // a TTL wait: the 1 s reservation expires
      await reserve(800);
      assert.equal(await counters.reserved(userId), 800, 'only the live reservation counts');
    } finally {
      await owned.close();
    }
  });
});

describe('GET /v1/me/usage', () => {
  it('equals the sum of the usage frames, oldest day first, with zero days', async () => {
    const { client, sessionId, token, userId } = await newChat();
    let sum = 0;
    for (let i = 0; i < 3; i++) {
      const requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: `count me ${i} [[tokens:30]]` });
      await client.end(requestId);
      const usage = usageOf(client, requestId);
      sum += Number(usage?.totalTokens);
      assert.deepEqual(usage?.quota, { dailyUsed: sum, dailyLimit: DAILY });
    }
    const now = new Date();
    const res = await sys.http(token, 'GET', '/v1/me/usage?days=3');
    assert.equal(res.status, 200);
    const dates = [2, 1, 0].map((d) =>
      new Date(now.getTime() - d * 86_400_000).toISOString().slice(0, 10),
    );
    // No price configured (no LLM_CONFIG): the cost is 0 (test/stack/failover.test.ts prices it).
    assert.deepEqual(res.body.daily, [
      { date: dates[0], tokens: 0, costUsd: 0 },
      { date: dates[1], tokens: 0, costUsd: 0 },
      { date: dates[2], tokens: sum, costUsd: 0 },
    ]);
    assert.deepEqual(res.body.month, { period: now.toISOString().slice(0, 7), tokens: sum, costUsd: 0 });
    assert.deepEqual(res.body.quota, {
      plan: 'free',
      daily: { used: sum, limit: DAILY, remaining: DAILY - sum },
      monthly: { used: sum, limit: 30 * DAILY, remaining: 30 * DAILY - sum },
    });
    const week = await sys.http(token, 'GET', '/v1/me/usage');
    assert.equal(week.body.daily.length, 7);

    // Without the Redis counters, the ledger answers the same.
    await waitForRows(sys.api.deps.db, userId, 3);
    await deleteUsageKeys(sys.api.deps.redis, userId);
    const fromLedger = await sys.http(token, 'GET', '/v1/me/usage?days=3');
    assert.deepEqual(fromLedger.body, res.body);

    // Remaining never goes negative.
    await sys.api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 10)',
      [userId],
    );
    const over = await sys.http(token, 'GET', '/v1/me/usage?days=1');
    assert.deepEqual(over.body.quota.daily, { used: sum, limit: 10, remaining: 0 });
    await client.close();
  });

  it('rejects days outside 1..90', async () => {
    const { token } = sys.newUser();
    for (const days of ['0', '91', 'x', '1.5']) {
      const res = await sys.http(token, 'GET', `/v1/me/usage?days=${days}`);
      assert.equal(res.status, 400, days);
      assert.equal(res.body.error.code, 'bad_request');
    }
    assert.equal((await sys.http(undefined, 'GET', '/v1/me/usage')).status, 401);
  });
});

describe('counters after Redis lost them', () => {
  it('are rebuilt from the ledger before the next check, never reset to zero', async () => {
    const { client, sessionId, userId } = await newChat();
    let spent = 0;
    for (let i = 0; i < 2; i++) {
      const requestId = randomUUID();
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: `before flush ${i} [[tokens:50]]`,
      });
      await client.end(requestId);
      spent += Number(usageOf(client, requestId)?.totalTokens);
    }
    await waitForRows(sys.api.deps.db, userId, 2);
    assert.ok((await deleteUsageKeys(sys.api.deps.redis, userId)) > 0);
    assert.equal(await counters.dailyUsed(userId, new Date()), 0, 'lost');
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'after flush [[tokens:50]]' });
    await client.end(requestId);
    const usage = usageOf(client, requestId);
    assert.equal(
      usage?.quota && (usage.quota as { dailyUsed: number }).dailyUsed,
      spent + Number(usage?.totalTokens),
    );
    const day = await sys.api.deps.redis.hgetall(usageKeys(userId, new Date()).daily);
    assert.equal(day.h, '1', 'hydrated');
    await eventually(
      'month rebuilt',
      async () =>
        (await counters.monthlyUsed(userId, new Date())) === spent + Number(usage?.totalTokens),
    );
    await client.close();
  });
});
