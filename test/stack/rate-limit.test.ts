/**
 * Abuse limits: chat requests per user per minute, counted in Redis and shared by every
 * API process (a replay of a started request is never limited), and the per-connection
 * WebSocket frame limit.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { chatWorkflowId } from '../../contracts/chat';
import { quotaRefusalsTotal } from '../../lib/metrics';
import { startSystem, type TestSystem } from '../../testkit/system';
import { counterValue } from '../../testkit/usage';
import { TestClient } from '../../testkit/ws-client';

let rs: TestSystem;
const started: Array<{ userId: string; requestId: string }> = [];

before(async () => {
  // No worker: only admission is under test; the workflows are terminated after.
  rs = await startSystem({ noWorker: true, env: { RATE_LIMIT_PER_MINUTE: '3' } });
});
after(async () => {
  for (const { userId, requestId } of started) {
    await rs.temporal.workflow
      .getHandle(chatWorkflowId(userId, requestId))
      .terminate('test cleanup')
      .catch(() => undefined);
  }
  await rs?.stop();
});

it('counts requests per user across API processes; replays are never limited', async () => {
  const { userId, token } = rs.newUser();
  const sessionId = await rs.createSession(token);
  const other = await rs.startAnotherApi();
  const a = await rs.connect(token);
  const b = await TestClient.connect(`ws://127.0.0.1:${other.port}/v1/ws?token=${token}`);
  const refusedBefore = await counterValue(quotaRefusalsTotal, { reason: 'rate_limited' });
  const send = async (c: TestClient, requestId = randomUUID()) => {
    started.push({ userId, requestId });
    c.send({ type: 'chat', requestId, sessionId, content: 'hi' });
    return c.waitFor((fs) =>
      fs.find((f) => f.requestId === requestId && (f.type === 'accepted' || f.type === 'error')),
    );
  };
  const first = randomUUID();
  assert.equal((await send(a, first)).type, 'accepted');
  assert.equal((await send(b)).type, 'accepted');
  assert.equal((await send(a)).type, 'accepted');
  const limited = await send(b);
  assert.equal(limited.type, 'error');
  assert.equal(limited.code, 'rate_limited');
  assert.ok(
    Number(limited.retryAfter) >= 1 && Number(limited.retryAfter) <= 60,
    String(limited.retryAfter),
  );
  assert.equal((await send(a)).code, 'rate_limited', 'the other process counts the same');
  // The same requestId again is a replay: accepted, not limited, not counted.
  assert.equal((await send(b, first)).type, 'accepted');
  assert.equal(
    await counterValue(quotaRefusalsTotal, { reason: 'rate_limited' }),
    refusedBefore + 2,
  );
  // Another user has their own budget.
  const someone = rs.newUser();
  const theirs = await rs.connect(someone.token);
  const theirSession = await rs.createSession(someone.token);
  const rid = randomUUID();
  started.push({ userId: someone.userId, requestId: rid });
  theirs.send({ type: 'chat', requestId: rid, sessionId: theirSession, content: 'hi' });
  await theirs.waitFor((fs) => fs.find((f) => f.requestId === rid && f.type === 'accepted'));
  await Promise.all([a.close(), b.close(), theirs.close()]);
});

it('a frame flood answers rate_limited and the connection stays open', async () => {
  const { token } = rs.newUser();
  const c = await rs.connect(token);
  for (let i = 0; i < 100; i++) c.send({ type: 'ping' });
  const limited = await c.waitFor((fs) => {
    const errs = fs.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    const pongs = fs.filter((f) => f.type === 'pong');
    return errs.length + pongs.length === 100 && errs;
  });
  assert.ok(limited.length >= 100 - rs.config.wsFrameBurst - 10, `${limited.length} refused`);
  assert.ok(limited.every((f) => Number(f.retryAfter) >= 1));
  // Waits out the frame bucket's refill (a second), as a TTL: a poll would spend its tokens.
  await new Promise((r) => setTimeout(r, 1100));
  const before = c.frames.length;
  c.send({ type: 'ping' });
  await c.waitFor(
    (fs) => fs.length > before && fs.at(-1)?.type === 'pong',
    5000,
    'pong after the flood',
  );
  assert.equal(c.closeCode, undefined);
  await c.close();
});
