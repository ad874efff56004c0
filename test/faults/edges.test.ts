/**
 * Fault suite (issue 11; helpers in ./invariants.ts and ./stack.ts): The API, the LLM, Redis (data lost) and the Temporal dev server killed and restarted mid-request.
 * Real processes on this file's own stack; every case asserts the invariants of
 * ./invariants.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertStored, assertStream, chat, deltas, useFaultStack } from './invariants';
import { eventually } from '../../testkit/poll';

const env = useFaultStack();

describe('fault suite: edges', () => {
  it('API SIGKILL: the client resumes on the second API and misses nothing', async () => {
    const { userId, sessionId, client, token } = await env.stack.newChat(0);
    const requestId = chat(client, sessionId, 'api dies [[tokens:40]] [[delay_ms:60]]');
    await deltas(client, requestId, 5);
    await env.stack.procs.api0!.kill();
    await eventually(
      'the socket to close',
      () => client.ws.readyState === client.ws.CLOSED,
      10_000,
    );
    const seen = client.of(requestId);
    const last = seen.filter((f) => f.eventId !== undefined).at(-1);
    const again = await env.stack.connect(token, 1);
    again.send({ type: 'resume', requestId, lastEventId: String(last?.eventId) });
    await again.end(requestId, 60_000);
    assertStream([...seen, ...again.of(requestId)], 'api kill');
    await assertStored(env, userId, sessionId, requestId, 'api kill');
    await again.close();
    await env.stack.startApi('api0', env.stack.apiPorts[0]!);
  });
  it('LLM process killed mid-stream: the call is retried and the client restarts its text', async () => {
    const { userId, sessionId, client } = await env.stack.newChat();
    const requestId = chat(client, sessionId, 'llm dies [[tokens:40]] [[delay_ms:60]]');
    await deltas(client, requestId, 5);
    await env.stack.procs.llm!.kill();
    await env.stack.startLlm();
    await client.end(requestId, 90_000);
    const frames = client.of(requestId);
    assertStream(frames, 'llm kill');
    assert.ok(
      frames.some((f) => f.type === 'restart'),
      'the client was told to restart',
    );
    await assertStored(env, userId, sessionId, requestId, 'llm kill');
    await client.close();
  });
  it('Redis restarted with its data lost mid-stream: eventIds never reused, text intact', async () => {
    const { userId, sessionId, client } = await env.stack.newChat();
    const requestId = chat(client, sessionId, 'redis dies [[tokens:60]] [[delay_ms:60]]');
    await deltas(client, requestId, 5);
    await env.stack.procs.redis!.kill();
    await env.stack.startRedis();
    await client.end(requestId, 90_000);
    const frames = client.of(requestId);
    assertStream(frames, 'redis restart');
    assert.ok(
      frames.some((f) => f.type === 'restart'),
      'the client was told to restart its text',
    );
    await assertStored(env, userId, sessionId, requestId, 'redis restart');
    // The counters were lost with Redis: the next request rebuilds them from the ledger.
    const next = chat(client, sessionId, 'after the restart');
    await client.end(next, 60_000);
    assertStream(client.of(next), 'after redis restart');
    await assertStored(env, userId, sessionId, next, 'after redis restart');
    await client.close();
  });
  it('Temporal dev server restarted on the same database: the request completes', async () => {
    const { userId, sessionId, client } = await env.stack.newChat();
    const requestId = chat(client, sessionId, 'temporal restarts [[tokens:40]] [[delay_ms:80]]');
    await deltas(client, requestId, 5);
    await env.stack.procs.temporal!.kill();
    await env.stack.startTemporal();
    await client.end(requestId, 120_000);
    assertStream(client.of(requestId), 'temporal restart');
    await assertStored(env, userId, sessionId, requestId, 'temporal restart');
    // New requests work too.
    const next = chat(client, sessionId, 'after the temporal restart');
    await client.end(next, 60_000);
    assertStream(client.of(next), 'after temporal restart');
    await client.close();
  });
});
