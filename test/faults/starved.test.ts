/**
 * Fault suite: the process running the LLM calls is starved (SIGSTOP for 20 s, then
 * SIGCONT) while it streams several replies. Overload of our own must never become a
 * retry storm: every request ends `done`, with at most one restart, its text whole,
 * stored and billed once (./invariants.ts). (With a heartbeat timeout under half the
 * stall there would be two: the retry goes to the stopped worker's waiting poll, and
 * times out in its turn. The default, 60 s, rides a 20 s stall out with none.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertStored, assertStream, chat, deltas, useFaultStack } from './invariants';

// The product's own heartbeat timeout (the suite shortens it for its kills): a stall
// shorter than it must cost no restart at all, and never more than one.
const env = useFaultStack({ LLM_HEARTBEAT_TIMEOUT_MS: '' });
const STREAMS = 6;
const STOPPED_MS = 20_000;

describe('fault suite: a starved LLM process', () => {
  it('SIGSTOP the worker for 20 s mid-stream: every request ends done with at most one restart', async () => {
    const chats = await Promise.all(Array.from({ length: STREAMS }, () => env.stack.newChat()));
    const requests = chats.map(({ client, sessionId }, i) =>
      chat(client, sessionId, `starved ${i} [[tokens:80]] [[delay_ms:50]]`),
    );
    await Promise.all(chats.map(({ client }, i) => deltas(client, requests[i]!, 2)));
    // The worker runs every LLM call (the fault stack's APIs run no chat worker).
    const worker = env.stack.procs.worker!.child;
    worker.kill('SIGSTOP');
    try {
      await sleep(STOPPED_MS); // the starvation itself, not a wait for something
    } finally {
      worker.kill('SIGCONT');
    }
    for (const [i, { userId, sessionId, client }] of chats.entries()) {
      const requestId = requests[i]!;
      await client.end(requestId, 120_000);
      const frames = client.of(requestId);
      assertStream(frames, `starved ${i}`);
      const restarts = frames.filter((f) => f.type === 'restart').length;
      assert.ok(restarts <= 1, `starved ${i}: at most one restart (got ${restarts})`);
      await assertStored(env, userId, sessionId, requestId, `starved ${i}`);
      await client.close();
    }
  });
});
