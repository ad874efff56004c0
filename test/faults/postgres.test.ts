/**
 * Fault suite (issue 11; helpers in ./invariants.ts and ./stack.ts): Postgres stopped for 45 s with chats in flight and new chats arriving.
 * Real processes on this file's own stack; every case asserts the invariants of
 * ./invariants.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStored, assertStream, chat, deltas, useFaultStack } from './invariants';

const env = useFaultStack();

describe('fault suite: postgres', () => {
  it('Postgres stopped for 45 s: chats in flight and chats sent meanwhile all complete', async () => {
    const chats = await Promise.all([1, 2, 3, 4].map(() => env.stack.newChat()));
    const inFlight = chats.slice(0, 2).map((c) => ({ ...c, requestId: chat(c.client, c.sessionId, 'pg goes away [[tokens:30]] [[delay_ms:100]]') }));
    await Promise.all(inFlight.map((c) => deltas(c.client, c.requestId, 3)));
    const stoppedAt = Date.now();
    await env.stack.pg.stop();
    // Deliberate: the chats in flight stream on and reach their save while Postgres is down.
    await new Promise((r) => setTimeout(r, 3000));
    const during = chats.slice(2).map((c) => ({ ...c, requestId: chat(c.client, c.sessionId, 'sent while pg is down') }));
    for (const c of during) {
      await c.client.waitFor((fs) => fs.find((f) => f.requestId === c.requestId && f.type === 'accepted'), 10_000, 'accepted');
    }
    // The outage itself (45 s), during which nothing may end.
    await new Promise((r) => setTimeout(r, Math.max(0, 45_000 - (Date.now() - stoppedAt))));
    for (const c of [...inFlight, ...during]) {
      assert.equal(c.client.of(c.requestId).filter((f) => f.type === 'done' || f.type === 'error').length, 0, 'nothing ends while Postgres is down');
    }
    await env.stack.pg.start();
    for (const c of [...inFlight, ...during]) {
      await c.client.end(c.requestId, 120_000);
      assertStream(c.client.of(c.requestId), 'postgres outage');
      await assertStored(env, c.userId, c.sessionId, c.requestId, 'postgres outage');
      await c.client.close();
    }
  });
});
