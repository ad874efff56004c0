/**
 * Shared by the fault suite's files (test/faults/*.test.ts): the stack each file starts
 * for itself, and the invariants every case asserts: one terminal frame per request, the
 * text rebuilt from deltas (honouring `restart`) equal to `done.content`, eventIds unique
 * and in order, one assistant message and one ledger row per billed request, and the
 * user's quota counter equal to the ledger.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { pendingTools } from '../../store/tool-tasks';
import { UsageCounters } from '../../usage/counters';
import { reassemble, type Frame, type TestClient } from '../../testkit/ws-client';
import { eventually } from '../../testkit/poll';
import { startFaultStack, type FaultStack } from './stack';

/** What a fault-suite file works with. */
export interface FaultEnv {
  stack: FaultStack;
  db: Pool;
  redis: Redis;
}

/** Starts this file's own stack (with `overrides` to its environment) before its tests and stops it after. */
export function useFaultStack(overrides: NodeJS.ProcessEnv = {}): FaultEnv {
  const env = {} as FaultEnv;
  before(async () => {
    env.stack = await startFaultStack(overrides);
    env.db = new Pool({ connectionString: env.stack.databaseUrl, max: 4 });
    env.db.on('error', () => undefined);
    env.redis = new Redis(env.stack.redisUrl, { maxRetriesPerRequest: null });
    env.redis.on('error', () => undefined);
  });
  after(async () => {
    env.redis?.disconnect();
    await env.db?.end().catch(() => undefined);
    await env.stack?.stop();
  });
  return env;
}

/** Sends a chat; returns its requestId. */
export function chat(client: TestClient, sessionId: string, content: string): string {
  const requestId = randomUUID();
  client.send({ type: 'chat', requestId, sessionId, content });
  return requestId;
}

/** Waits for `n` deltas of the request. */
export function deltas(client: TestClient, requestId: string, n: number): Promise<unknown> {
  return client.waitFor(
    (fs) => fs.filter((f) => f.requestId === requestId && f.type === 'delta').length >= n,
    30_000,
    `${n} deltas`,
  );
}

/** The stream invariants over every frame a client received for a request. */
export function assertStream(frames: Frame[], what: string): Frame {
  const ends = frames.filter(
    (f) => f.type === 'done' || (f.type === 'error' && f.eventId !== undefined),
  );
  assert.equal(
    ends.length,
    1,
    `${what}: exactly one terminal frame (got ${ends.map((f) => f.type).join(', ')})`,
  );
  const done = ends[0]!;
  assert.equal(done.type, 'done', `${what}: ends with done: ${JSON.stringify(done)}`);
  assert.equal(frames.at(-1), done, `${what}: nothing after the terminal frame`);
  const ids = frames.filter((f) => f.eventId !== undefined).map((f) => Number(f.eventId));
  for (let i = 1; i < ids.length; i++)
    assert.ok(ids[i]! > ids[i - 1]!, `${what}: eventIds strictly increase`);
  assert.equal(reassemble(frames), done.content, `${what}: rebuilt text equals done.content`);
  return done;
}

/** One assistant reply and one ledger row for the request; counters equal the ledger. */
export async function assertStored(
  env: FaultEnv,
  userId: string,
  sessionId: string,
  requestId: string,
  what: string,
): Promise<void> {
  const replies = await env.db.query(
    'SELECT id FROM chat_messages WHERE session_id = $1 AND message_key = $2',
    [sessionId, `${requestId}:assistant`],
  );
  assert.equal(replies.rowCount, 1, `${what}: one assistant message`);
  await eventually(`${what}: its ledger row`, async () => {
    const { rowCount } = await env.db.query(
      'SELECT 1 FROM usage_records WHERE user_id = $1 AND request_id = $2',
      [userId, requestId],
    );
    return rowCount === 1;
  });
  const day = new Date(new Date().toISOString().slice(0, 10));
  const ledger = async () =>
    Number(
      (
        await env.db.query<{ s: string }>(
          'SELECT coalesce(sum(total_tokens), 0) AS s FROM usage_records WHERE user_id = $1 AND created_at >= $2',
          [userId, day],
        )
      ).rows[0]?.s,
    );
  const counters = new UsageCounters(env.redis);
  let seen = '';
  // The ledger row may land a moment after the counters moved (billing hand-off).
  await eventually(
    `${what}: quota counter equal to the ledger (${seen})`,
    async () => {
      const [c, l] = [await counters.dailyUsed(userId, new Date()), await ledger()];
      seen = `counter ${c}, ledger ${l}`;
      return c === l;
    },
    30_000,
  );
}

/** Pid of the worker process that runs the tool activity of task `taskId` now. */
export async function toolWorkerPid(temporal: Client, taskId: string): Promise<number | undefined> {
  const desc = await temporal.workflow
    .getHandle(taskId)
    .describe()
    .catch(() => undefined);
  if (!desc || (await pendingTools(temporal.workflow, desc)).length === 0) return undefined;
  const identity = desc.raw.pendingActivities?.[0]?.lastWorkerIdentity ?? '';
  const pid = Number(identity.split('@')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
