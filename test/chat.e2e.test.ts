/**
 * The chat path end to end over real WebSockets, on the real stack: Temporal dev
 * server, Postgres, Redis and the embedded LLM through the `openai` client.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { UsageCounters } from '../lib/usage-counters';
import { startSystem, type TestSystem } from './helpers/system';
import { reassemble, type Frame } from './helpers/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

async function newChat() {
  const user = sys.newUser();
  const sessionId = await sys.createSession(user.token);
  const client = await sys.connect(user.token);
  return { ...user, sessionId, client };
}

function eventIdsInOrder(frames: Frame[]): void {
  const ids = frames.filter((f) => f.eventId !== undefined).map((f) => String(f.eventId));
  assert.deepEqual([...ids].sort(), ids, 'eventIds sort in the order sent');
  assert.equal(new Set(ids).size, ids.length, 'no event twice');
}

describe('chat over WebSocket', () => {
  it('streams deltas, usage and done; stores both messages', async () => {
    const { client, sessionId, token } = await newChat();
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'Hello there [[tokens:20]]' });
    const done = await client.end(requestId);
    const frames = client.of(requestId);
    assert.equal(frames[0]?.type, 'accepted');
    assert.equal(frames[0]?.sessionId, sessionId);
    assert.equal(done.type, 'done', JSON.stringify(frames.slice(-3)));
    const deltas = frames.filter((f) => f.type === 'delta');
    assert.equal(deltas.length, 20);
    assert.equal(reassemble(frames), done.content);
    const usage = frames.find((f) => f.type === 'usage');
    assert.ok(usage, 'usage frame');
    assert.equal(usage.completionTokens, 20);
    assert.ok((usage.promptTokens as number) > 0);
    assert.equal(usage.totalTokens, (usage.promptTokens as number) + 20);
    assert.deepEqual(usage.quota, { dailyUsed: usage.totalTokens, dailyLimit: 50_000 });
    assert.ok(frames.some((f) => f.type === 'status' && f.state === 'calling_llm'));
    eventIdsInOrder(frames);
    assert.equal(frames.filter((f) => f.type === 'done' || f.type === 'error').length, 1);

    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.equal(res.status, 200);
    const messages = res.body.messages as Array<Record<string, unknown>>;
    assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant']);
    assert.equal(messages[1]?.content, done.content);
    assert.equal(messages[1]?.id, done.messageId);
    assert.equal(messages[1]?.tokens, 20);
    assert.match(String(messages[0]?.createdAt), /^\d{4}-\d\d-\d\dT/);
    await client.close();
  });

  it('the prompt carries the window of earlier messages', async () => {
    const { client, sessionId } = await newChat();
    for (let i = 0; i < 2; i++) {
      const requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: `turn ${i}` });
      const done = await client.end(requestId);
      // system + (user, assistant) per earlier turn + this user message
      assert.match(String(done.content), new RegExp(`^\\(messages: ${2 + 2 * i}\\)`));
    }
    await client.close();
  });

  it('the same requestId twice runs once and replays the same events', async () => {
    const { client, sessionId, token, userId } = await newChat();
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'once only [[tokens:8]]' });
    const done = await client.end(requestId);
    const second = await sys.connect(token);
    second.send({ type: 'chat', requestId, sessionId, content: 'once only [[tokens:8]]' });
    const replayed = await second.end(requestId);
    assert.deepEqual(replayed, done);
    const strip = (fs: Frame[]) => fs.filter((f) => f.eventId);
    assert.deepEqual(strip(second.of(requestId)), strip(client.of(requestId)));
    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.equal(res.body.messages.length, 2, 'one user and one assistant message');
    const usage = client.of(requestId).find((f) => f.type === 'usage');
    const counted = await new UsageCounters(sys.api.deps.redis).dailyUsed(userId, new Date());
    assert.equal(counted, usage?.totalTokens, 'usage counted once');
    await Promise.all([client.close(), second.close()]);
  });
});
