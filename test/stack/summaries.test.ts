/**
 * Context pruning and incremental summarisation on the real stack: the window, the
 * token budget, `context_too_large`, one summarisation per session, incremental input,
 * the summary cache, and the circuit breaker.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { summaryCacheKey } from '../../store/summaries';
import { eventually } from '../../testkit/poll';
import { startSystem, type TestSystem } from '../../testkit/system';
import type { TestClient } from '../../testkit/ws-client';

let sys: TestSystem;

before(async () => {
  sys = await startSystem({
    env: {
      MODEL_TABLE: JSON.stringify({ tiny: { encoding: 'o200k_base', contextWindow: 1400 } }),
      MAX_COMPLETION_TOKENS: '200',
    },
  });
});
after(async () => {
  await sys?.stop();
});

interface Chat {
  client: TestClient;
  sessionId: string;
  token: string;
}

async function newChat(system = sys): Promise<Chat> {
  const { token } = system.newUser();
  const sessionId = await system.createSession(token);
  return { client: await system.connect(token), sessionId, token };
}

async function say(chat: Chat, content: string, model?: string) {
  const requestId = randomUUID();
  chat.client.send({
    type: 'chat',
    requestId,
    sessionId: chat.sessionId,
    content,
    ...(model ? { model } : {}),
  });
  return chat.client.end(requestId);
}

/** Summarisation calls the embedded LLM received for a session marker. */
function summaryCalls(system: TestSystem, marker: string) {
  return system.llm.stats.calls.filter(
    (c) =>
      !c.stream &&
      c.lastUserMessage.startsWith('Previous summary:') &&
      c.lastUserMessage.includes(marker),
  );
}

async function summaryRow(sessionId: string) {
  const { rows } = await sys.api.deps.db.query<{
    summary: string;
    watermark_message_id: string;
    runs: number;
  }>('SELECT summary, watermark_message_id, runs FROM chat_summaries WHERE session_id = $1', [
    sessionId,
  ]);
  return rows[0];
}

describe('pruning', () => {
  it('cuts the prompt to the system prompt plus the 10 most recent messages', async () => {
    const chat = await newChat();
    let last;
    for (let i = 0; i < 7; i++) last = await say(chat, `turn ${i}`);
    // 6 earlier turns = 12 messages + this one = 13 stored; the prompt holds 1 + 10.
    assert.match(String(last?.content), /^\(messages: 11\)/);
  });

  it('trims to the token budget of a tiny-context model', async () => {
    const chat = await newChat();
    const filler = 'lorem ipsum dolor sit amet '.repeat(40); // ~200 tokens a message
    for (let i = 0; i < 4; i++) await say(chat, `${filler} ${i}`, 'tiny');
    const end = await say(chat, `${filler} last`, 'tiny');
    assert.equal(end.type, 'done');
    const call = sys.llm.stats.calls.filter((c) => c.model === 'tiny').at(-1)!;
    // Budget: 1400 - 200 completion - 128 margin = 1072 prompt tokens.
    assert.ok(call.promptTokens <= 1072, `prompt ${call.promptTokens} fits the budget`);
    assert.ok(call.messageCount < 10, `trimmed below the 10-message window (${call.messageCount})`);
  });

  it('a message too large even alone answers context_too_large: no LLM call, nothing stored or billed', async () => {
    const chat = await newChat();
    const callsBefore = sys.llm.stats.requests;
    const requestId = randomUUID();
    chat.client.send({
      type: 'chat',
      requestId,
      sessionId: chat.sessionId,
      model: 'tiny',
      content: 'word '.repeat(2000),
    });
    const end = await chat.client.end(requestId);
    assert.equal(end.type, 'error');
    assert.equal(end.code, 'context_too_large');
    assert.equal(sys.llm.stats.requests, callsBefore);
    assert.equal(
      chat.client.of(requestId).some((f) => f.type === 'usage'),
      false,
    );
    const res = await sys.http(chat.token, 'GET', `/v1/sessions/${chat.sessionId}/messages`);
    assert.deepEqual(res.body.messages, []);
  });
});

describe('summarisation', () => {
  it('the 21st message starts exactly one summarisation, even with concurrent requests, and chat does not wait', async () => {
    const chat = await newChat();
    const marker = randomUUID();
    // The first message slows the summary LLM down (directives in the folded text
    // reach the embedded LLM), so the run is still going while the others arrive.
    await say(chat, `${marker} first [[delay_ms:150]]`);
    for (let i = 1; i < 10; i++) await say(chat, `${marker} turn ${i}`);
    assert.equal(summaryCalls(sys, marker).length, 0, 'nothing summarised at 20 messages');
    const ends = await Promise.all([1, 2, 3, 4].map((i) => say(chat, `${marker} concurrent ${i}`)));
    assert.ok(
      ends.every((e) => e.type === 'done'),
      'chat completes while summarising',
    );
    const row = await eventually('summary row', () => summaryRow(chat.sessionId), 30_000);
    assert.equal(row.runs, 1);
    assert.equal(summaryCalls(sys, marker).length, 1, 'one summarisation LLM call');
    assert.match(row.summary, /^Summary:/);
  });

  it('the turn that starts a summary tells its client (`status: summarizing`) before `done`', async () => {
    const chat = await newChat();
    const marker = randomUUID();
    for (let i = 0; i < 10; i++) await say(chat, `${marker} turn ${i}`);
    const requestId = randomUUID();
    chat.client.send({
      type: 'chat',
      requestId,
      sessionId: chat.sessionId,
      content: `${marker} due`,
    });
    assert.equal((await chat.client.end(requestId)).type, 'done');
    const kinds = chat.client
      .of(requestId)
      .map((f) => (f.type === 'status' ? `status:${String(f.state)}` : String(f.type)));
    assert.deepEqual(kinds.slice(-2), ['status:summarizing', 'done']);
    // The turn before it (20 messages stored) announced nothing.
    const earlier = chat.client.frames.filter(
      (f) => f.type === 'status' && f.state === 'summarizing',
    );
    assert.equal(earlier.length, 1);
    await eventually('summary row', () => summaryRow(chat.sessionId), 30_000);
  });

  it('is incremental, cached for an hour, and reloaded from Postgres without an LLM call', async () => {
    const chat = await newChat();
    const marker = randomUUID();
    for (let i = 0; i < 11; i++) await say(chat, `${marker} old-${String(i).padStart(2, '0')}`);
    const first = await eventually('first summary', () => summaryRow(chat.sessionId));
    const ttl = await sys.api.deps.redis.ttl(summaryCacheKey(chat.sessionId));
    assert.ok(ttl > 3500 && ttl <= 3600, `cached for an hour (ttl ${ttl})`);

    // The next prompt carries the summary: system + summary + 10 messages.
    const next = await say(chat, `${marker} after-summary`);
    assert.match(String(next.content), /^\(messages: 12\)/);

    // Cache gone: reloaded from Postgres, no summarisation call.
    await sys.api.deps.redis.del(summaryCacheKey(chat.sessionId));
    const callsBefore = summaryCalls(sys, marker).length;
    const reloaded = await say(chat, `${marker} cache-miss`);
    assert.match(String(reloaded.content), /^\(messages: 12\)/);
    assert.equal(summaryCalls(sys, marker).length, callsBefore, 'no LLM call on a cache miss');
    assert.ok(await sys.api.deps.redis.exists(summaryCacheKey(chat.sessionId)), 'cached again');

    // Enough new old messages: the second run folds only them into the first summary.
    // (7 of them: the 3rd asks for the second run, and 7 are too few for a third.)
    for (let i = 0; i < 7; i++) await say(chat, `${marker} new-${i}`);
    const second = await eventually('second summary', async () => {
      const r = await summaryRow(chat.sessionId);
      return r && r.runs === 2 ? r : undefined;
    });
    // Each run folds exactly what the prompt that asked for it left out of its window
    // (10 messages), whenever the run reads the history: the 11th request (message 21)
    // folds messages 1-11; with 10 new old messages, the 16th (message 31) folds 12-21.
    const ids = await messageIds(chat.sessionId);
    assert.equal((await summaryRow(chat.sessionId))?.runs, 2, 'no third run');
    assert.equal(first.watermark_message_id, ids[10], 'first run: messages 1-11');
    assert.equal(second.watermark_message_id, ids[20], 'second run: messages 12-21');
    const calls = summaryCalls(sys, marker);
    const input = calls.at(-1)!.lastUserMessage;
    assert.ok(
      input.startsWith(`Previous summary:\n${first.summary}`),
      'holds the previous summary',
    );
    const fresh = input.slice(input.lastIndexOf('\nNew messages:\n'));
    assert.doesNotMatch(fresh, /old-0[0-4]/, 'nothing already summarised is sent again');
    assert.match(fresh, /user: \S+ old-06[\s\S]*user: \S+ old-10/);
    assert.doesNotMatch(fresh, /after-summary/, 'the window is not summarised');
  });
});

/** The session's message ids, oldest first. */
async function messageIds(sessionId: string): Promise<string[]> {
  const { rows } = await sys.api.deps.db.query<{ id: string }>(
    'SELECT id FROM chat_messages WHERE session_id = $1 ORDER BY id',
    [sessionId],
  );
  return rows.map((r) => String(r.id));
}

describe('circuit breaker', () => {
  it('opens when the summary LLM keeps failing, chat goes on, and it closes after the cool-down', async () => {
    const broken = await startSystem({
      env: {
        SUMMARY_BASE_URL: 'http://127.0.0.1:9/v1',
        SUMMARY_THRESHOLD: '4',
        SUMMARY_MIN_NEW_MESSAGES: '1',
        MAX_HISTORY_MESSAGES: '2',
        SUMMARY_BREAKER_FAILURES: '2',
        SUMMARY_BREAKER_COOLDOWN_MS: '3000',
      },
    });
    try {
      const breaker = broken.workers.length > 0 ? broken : sys;
      const chat = await newChat(breaker);
      const deps = breaker.api.deps;
      const openKey = 'breaker:{summary-llm}:open';
      await deps.redis.del(openKey, 'breaker:{summary-llm}:failures');
      for (let i = 0; i < 4; i++) assert.equal((await say(chat, `b${i}`)).type, 'done');
      // Each failing run makes 2 attempts: the breaker opens after 2 failures.
      await eventually('breaker open', async () =>
        (await deps.redis.exists(openKey)) === 1 ? true : undefined,
      );
      for (let i = 0; i < 3; i++) assert.equal((await say(chat, `while-open ${i}`)).type, 'done');
      await eventually(
        'breaker closed',
        async () => ((await deps.redis.exists(openKey)) === 0 ? true : undefined),
        10_000,
      );
      assert.equal(
        await summaryRow(chat.sessionId),
        undefined,
        'nothing summarised by a broken LLM',
      );
    } finally {
      await broken.stop();
    }
  });
});
