/**
 * The chat path end to end over real WebSockets, on the real stack: Temporal dev
 * server, Postgres, Redis and the embedded LLM through the `openai` client.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { UsageCounters } from '../../usage/counters';
import { startSystem, type TestSystem } from '../../testkit/system';
import { waitForRows } from '../../testkit/usage';
import { reassemble, TestClient, type Frame } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

const newChat = () => sys.newChat();

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
    // Deltas may carry several tokens each (docs/API.md "Overload"): the text is what counts.
    const deltas = frames.filter((f) => f.type === 'delta');
    assert.ok(deltas.length >= 1 && deltas.length <= 20, `${deltas.length} deltas`);
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
    assert.deepEqual(
      messages.map((m) => m.role),
      ['user', 'assistant'],
    );
    assert.equal(messages[1]?.content, done.content);
    assert.equal(messages[1]?.id, done.messageId);
    assert.equal(messages[1]?.tokens, 20);
    assert.match(String(messages[0]?.createdAt), /^\d{4}-\d\d-\d\dT/);
    await client.close();
  });

  it('without provider usage, counts with tiktoken and marks the usage estimated', async () => {
    const { client, sessionId, userId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'count yourself [[tokens:15]] [[no_usage]]',
    });
    const done = await client.end(requestId);
    assert.equal(done.type, 'done');
    const usage = client.of(requestId).find((f) => f.type === 'usage');
    assert.equal(usage?.completionTokens, 15, 'tiktoken count of the reply');
    const call = sys.llm.stats.calls.find((c) => c.lastUserMessage.startsWith('count yourself'));
    assert.equal(usage?.promptTokens, call?.promptTokens, 'tiktoken count of the prompt');
    const { db } = sys.api.deps;
    const msg = await db.query(
      'SELECT tokens_estimated FROM chat_messages WHERE request_id = $1 AND role = $2',
      [requestId, 'assistant'],
    );
    assert.equal(msg.rows[0]?.tokens_estimated, true);
    const rows = await waitForRows(db, userId, 1);
    assert.equal(rows[0]?.estimated, true);
    assert.equal(rows[0]?.total_tokens, usage?.totalTokens);
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

describe('resume', () => {
  it('after a disconnect replays what was missed, once and in order, then goes live', async () => {
    const { client, sessionId, token } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'long one [[tokens:40]] [[delay_ms:25]]',
    });
    await client.waitFor(
      (fs) => fs.filter((f) => f.type === 'delta').length >= 2,
      20_000,
      '2 deltas',
    );
    await client.close();
    const seen = client.of(requestId).filter((f) => f.eventId);
    const lastEventId = String(seen.at(-1)?.eventId);

    const again = await sys.connect(token);
    again.send({ type: 'resume', requestId, lastEventId });
    const done = await again.end(requestId);
    const rest = again.of(requestId);
    assert.ok(
      rest.every((f) => String(f.eventId) > lastEventId),
      'nothing at or before lastEventId',
    );
    const all = [...seen, ...rest];
    eventIdsInOrder(all);
    assert.equal(
      reassemble(all),
      done.content,
      'every delta once: the text is whole, nothing repeated',
    );
    await again.close();
  });

  it('works on a second API process and without lastEventId replays everything', async () => {
    const { client, sessionId, token } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'replica [[tokens:30]] [[delay_ms:20]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.type === 'delta'), 20_000, 'first delta');
    await client.close();
    const other = await sys.startAnotherApi();
    const again = await TestClient.connect(`ws://127.0.0.1:${other.port}/v1/ws?token=${token}`);
    again.send({ type: 'resume', requestId });
    const done = await again.end(requestId);
    const frames = again.of(requestId);
    eventIdsInOrder(frames);
    assert.equal(frames[0]?.type, 'status', 'from the first event');
    assert.equal(frames[0]?.state, 'pruning');
    assert.equal(reassemble(frames), done.content);
    await again.close();
  });

  it("of an unknown or another user's request answers not_found", async () => {
    const a = await newChat();
    const requestId = randomUUID();
    a.client.send({ type: 'chat', requestId, sessionId: a.sessionId, content: 'mine' });
    await a.client.end(requestId);
    const b = await newChat();
    b.client.send({ type: 'resume', requestId });
    b.client.send({ type: 'resume', requestId: randomUUID() });
    const errors = await b.client.waitFor((fs) => {
      const e = fs.filter((f) => f.type === 'error');
      return e.length === 2 && e;
    });
    assert.deepEqual(
      errors.map((e) => e.code),
      ['not_found', 'not_found'],
    );
    await Promise.all([a.client.close(), b.client.close()]);
  });
});

describe('LLM failures', () => {
  it('fail_once:500 is retried and ends with done', async () => {
    const { client, sessionId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: `flaky ${requestId} [[fail_once:500]]`,
    });
    const end = await client.end(requestId);
    assert.equal(end.type, 'done');
    assert.match(String(end.content), /^\(messages: 2\)/);
  });

  it('cut_after:5 sends restart, then the exact text', async () => {
    const { client, sessionId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: `cut ${requestId} [[tokens:12]] [[cut_after:5]]`,
    });
    const end = await client.end(requestId);
    const frames = client.of(requestId);
    assert.equal(end.type, 'done');
    const restartAt = frames.findIndex((f) => f.type === 'restart');
    assert.ok(restartAt > 0, 'a restart frame');
    assert.ok(
      frames.slice(0, restartAt).filter((f) => f.type === 'delta').length >= 1,
      'partial text before restart',
    );
    assert.equal(reassemble(frames), end.content);
    assert.ok(
      frames.slice(restartAt).some((f) => f.type === 'delta'),
      'the text again after restart',
    );
    eventIdsInOrder(frames);
  });

  it('fail:500 ends with llm_unavailable in bounded time', async () => {
    const { client, sessionId, token } = await newChat();
    const requestId = randomUUID();
    const started = Date.now();
    client.send({ type: 'chat', requestId, sessionId, content: 'broken [[fail:500]]' });
    const end = await client.end(requestId, 30_000);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'llm_unavailable');
    // Documented bound: LLM_MAX_ATTEMPTS attempts with 0.3 s..2 s backoff (README).
    assert.ok(Date.now() - started < 30_000);
    const frames = client.of(requestId);
    assert.equal(frames.filter((f) => f.type === 'done' || f.type === 'error').length, 1);
    const calls = sys.llm.stats.calls.filter((c) => c.lastUserMessage === 'broken [[fail:500]]');
    assert.equal(calls.length, sys.config.llmMaxAttempts, 'one LLM call per attempt');
    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    const roles = (res.body.messages as Array<{ role: string }>).map((m) => m.role);
    assert.deepEqual(roles, ['user'], 'no assistant message');
  });
});

describe('cancel', () => {
  it('stops the stream and ends with error cancelled', async () => {
    const { client, sessionId } = await newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'slow [[tokens:200]] [[delay_ms:50]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.type === 'delta'), 20_000, 'first delta');
    client.send({ type: 'cancel', requestId });
    const end = await client.end(requestId);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'cancelled');
    const frames = client.of(requestId);
    assert.ok(frames.filter((f) => f.type === 'delta').length < 200);
    assert.equal(frames.filter((f) => f.type === 'done' || f.type === 'error').length, 1);
    const idx = frames.indexOf(end);
    assert.equal(idx, frames.length - 1, 'nothing after the terminal frame');
  });

  it('of an unknown request answers not_found', async () => {
    const { client } = await newChat();
    const requestId = randomUUID();
    client.send({ type: 'cancel', requestId });
    const err = await client.waitFor((fs) => fs.find((f) => f.type === 'error'));
    assert.equal(err.code, 'not_found');
    assert.equal(err.requestId, requestId);
  });
});
