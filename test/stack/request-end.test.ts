/**
 * Every followed request ends even when Redis no longer has its events (api/request-end.ts):
 * lost after `done` (a Redis restart or flush), or a workflow that closed without writing
 * its end (terminated by an operator). On the real stack: WebSocket resume and the
 * OpenAI-compatible door's Idempotency-Key replay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { chatWorkflowId } from '../../contracts/chat';
import { TERMINAL_EVENT_TYPES } from '../../contracts/protocol';
import { decodeEntry, EVENTS_LOST, requestKeys } from '../../store/event-log';
import { startSystem, type TestSystem } from '../../testkit/system';
import { reassemble, type Frame } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem();
});
after(async () => {
  await sys?.stop();
});

/** Drops every Redis key of the request, as a Redis restart without persistence does. */
async function loseEvents(userId: string, requestId: string): Promise<void> {
  const k = requestKeys(userId, requestId);
  await sys.api.deps.redis.del(k.stream, k.seq, k.once, k.end, k.fence);
}

/** The terminal events in the request's Redis log (the contract: exactly one). */
async function terminalsInLog(userId: string, requestId: string): Promise<number> {
  const entries = await sys.api.deps.redis.xrange(requestKeys(userId, requestId).stream, '-', '+');
  return entries.filter(([, fields]) =>
    TERMINAL_EVENT_TYPES.has(decodeEntry(fields)?.type ?? 'delta'),
  ).length;
}

const terminals = (frames: Frame[]) =>
  frames.filter((f) => f.type === 'done' || f.type === 'error');

describe('a request whose events Redis lost', () => {
  it('WebSocket resume after the loss gets restart, the full text and the same done, once', async () => {
    const { userId, token, sessionId, client } = await sys.newChat();
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content: 'remember this [[tokens:30]]' });
    const done = await client.end(requestId);
    assert.equal(done.type, 'done');
    await client.close();
    await loseEvents(userId, requestId);

    for (const attempt of ['first resume', 'second resume']) {
      const again = await sys.connect(token);
      again.send({ type: 'resume', requestId });
      const end = await again.end(requestId, 20_000);
      const frames = again.of(requestId);
      assert.equal(end.type, 'done', `${attempt}: ${JSON.stringify(frames)}`);
      assert.equal(end.content, done.content, `${attempt}: the same reply`);
      assert.equal(end.messageId, done.messageId);
      assert.equal(terminals(frames).length, 1, `${attempt}: exactly one terminal frame`);
      assert.equal(frames[0]?.type, 'restart');
      assert.equal(frames[0]?.reason, EVENTS_LOST);
      assert.equal(
        reassemble(frames),
        done.content,
        `${attempt}: the deltas after restart are the whole reply`,
      );
      await again.close();
    }
    assert.equal(await terminalsInLog(userId, requestId), 1, 'the end was written once');
  });

  it('a request ended with an error ends with the same error after the loss', async () => {
    const { userId, client } = await sys.newChat();
    const requestId = randomUUID();
    // A session that does not exist: the workflow ends with `error` not_found.
    client.send({ type: 'chat', requestId, sessionId: randomUUID(), content: 'hello' });
    const first = await client.end(requestId);
    assert.equal(first.code, 'not_found');
    await loseEvents(userId, requestId);
    client.send({ type: 'resume', requestId });
    const end = await client.waitFor(
      (fs) => fs.filter((f) => f.requestId === requestId && f.type === 'error')[1],
      20_000,
    );
    assert.equal(end.code, 'not_found');
    assert.equal(end.message, first.message);
    await client.close();
  });

  it('an Idempotency-Key replay after the loss answers the same completion, without an LLM call', async () => {
    const { userId, token } = sys.newUser();
    const created = await sys.http(token, 'POST', '/v1/me/api-keys', { name: 'replay' });
    const openai = new OpenAI({
      apiKey: created.body.key as string,
      baseURL: `${sys.baseUrl}/v1`,
      maxRetries: 0,
    });
    const key = `replay-${randomUUID()}`;
    const ask = () =>
      openai.chat.completions.create(
        {
          model: sys.config.llm.model,
          messages: [{ role: 'user', content: 'say something [[tokens:20]]' }],
        },
        { headers: { 'Idempotency-Key': key } },
      );
    const first = await ask();
    const requestId = first.id.slice('chatcmpl-'.length);
    await loseEvents(userId, requestId);
    const calls = sys.llm.stats.calls.length;
    const replay = await ask();
    assert.equal(replay.choices[0]?.message.content, first.choices[0]?.message.content);
    assert.equal(replay.choices[0]?.finish_reason, 'stop');
    assert.equal(sys.llm.stats.calls.length, calls, 'no new LLM call');

    // Streamed too: the chunks reassemble the same text and the stream ends.
    await loseEvents(userId, requestId);
    const stream = await openai.chat.completions.create(
      {
        model: sys.config.llm.model,
        messages: [{ role: 'user', content: 'say something [[tokens:20]]' }],
        stream: true,
      },
      { headers: { 'Idempotency-Key': key } },
    );
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(text, first.choices[0]?.message.content);
    assert.equal(finish, 'stop');
  });
});

describe('a workflow that closed without writing its end', () => {
  it('terminated by an operator mid-reply: the follower gets one error, internal', async () => {
    const { userId, sessionId, client } = await sys.newChat();
    const requestId = randomUUID();
    client.send({
      type: 'chat',
      requestId,
      sessionId,
      content: 'a long one [[tokens:400]] [[delay_ms:100]]',
    });
    await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && f.type === 'delta'));
    await sys.temporal.workflow
      .getHandle(chatWorkflowId(userId, requestId))
      .terminate('test: an operator stops it');
    const end = await client.end(requestId, 30_000);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'internal');
    assert.equal(terminals(client.of(requestId)).length, 1);
    await client.close();
  });
});
