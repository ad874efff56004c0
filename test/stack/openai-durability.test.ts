/**
 * A completion's stream survives its chat worker dying: the chat task queue is served
 * by a child process that is SIGKILLed mid-reply, and another one takes over. The
 * client, reading the same HTTP stream all along, sees one continuous reply (the retried
 * LLM attempt repeats the text already sent) or a clean error, never mixed text; the
 * request is billed once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { requestIdForKey } from '../../api/openai/routes';
import { chatWorkflowId } from '../../contracts/chat';
import type { RequestEvent } from '../../contracts/protocol';
import { startSystem, type TestSystem } from '../../testkit/system';
import { contentOf, postSse } from '../../testkit/sse';
import { startToolWorker, type ToolWorkerProcess } from '../../testkit/tool-worker-process';
import { waitForRows } from '../../testkit/usage';

let sys: TestSystem;
const workers: ToolWorkerProcess[] = [];

before(async () => {
  // The in-process workers serve everything but the chat queue: child processes do
  // (no chat worker in the API process either, so the killed worker is the one running).
  // A killed worker's call is retried after the heartbeat timeout: short here, so the test is.
  sys = await startSystem({
    serve: ['tools', 'billing', 'summaries'],
    env: { API_CHAT_WORKER: 'false', LLM_HEARTBEAT_TIMEOUT_MS: '10000' },
  });
});
after(async () => {
  for (const w of workers) w.kill();
  await sys?.stop();
});

describe('OpenAI-compatible stream across a diverging LLM retry', () => {
  it('ends the stream with llm_unavailable, never mixing attempts; the same key then answers the complete reply', async () => {
    // No chat worker runs yet: the test writes the request's event log itself, as an
    // LLM activity whose retry answered differently would have.
    const user = sys.newUser();
    const key = (await sys.http(user.token, 'POST', '/v1/me/api-keys', {})).body.key as string;
    const url = `${sys.baseUrl}/v1/chat/completions`;
    const idempotencyKey = randomUUID();
    const requestId = requestIdForKey(user.userId, idempotencyKey);
    const body = {
      model: sys.config.llm.model,
      messages: [{ role: 'user', content: 'diverge' }],
      stream: true,
    };
    const headers = { 'Idempotency-Key': idempotencyKey };
    const events = sys.api.deps.events;
    let firstEventSeen!: () => void;
    const seen = new Promise<void>((resolve) => (firstEventSeen = resolve));
    const first = postSse(url, key, body, { headers, onEvent: () => firstEventSeen() });
    const log: RequestEvent[] = [
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hello there ' },
      { type: 'restart', reason: 'llm_retry' },
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Goodbye' },
      { type: 'delta', content: ' friend' },
      {
        type: 'usage',
        promptTokens: 5,
        completionTokens: 2,
        totalTokens: 7,
        quota: { dailyUsed: 7, dailyLimit: 50_000 },
      },
      { type: 'done', messageId: '', content: 'Goodbye friend' },
    ];
    // The first request streams (its role chunk arrived) before the retry diverges.
    await events.append(user.userId, requestId, log[0]!);
    await seen;
    for (const e of log.slice(1)) await events.append(user.userId, requestId, e);
    try {
      const broken = await first;
      assert.equal(broken.status, 200);
      assert.equal(contentOf(broken.events), 'Hello there ', 'nothing of the other attempt');
      const last = JSON.parse(broken.events.at(-1)!.data) as {
        error: { code: string; type: string };
      };
      assert.equal(last.error.code, 'llm_unavailable');
      assert.ok(!broken.events.some((e) => e.data === '[DONE]'));

      const again = await postSse(url, key, body, { headers });
      assert.equal(again.status, 200);
      assert.equal(contentOf(again.events), 'Goodbye friend', 'the complete final reply');
      assert.equal(again.events.at(-1)?.data, '[DONE]');
      for (const e of again.events) assert.match(e.id ?? '', /^f\.\d+$/);
      const rest = await postSse(url, key, body, {
        headers: { ...headers, 'Last-Event-ID': again.events[0]!.id! },
      });
      assert.deepEqual(
        rest.events.map((e) => e.id),
        again.events.slice(1).map((e) => e.id),
        'resumable after a final-rendering id too',
      );
      const whole = await fetch(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ ...body, stream: false }),
      });
      const completion = (await whole.json()) as {
        choices: Array<{ message: { content: string } }>;
      };
      assert.equal(completion.choices[0]?.message.content, 'Goodbye friend');
    } finally {
      await sys.temporal.workflow
        .getHandle(chatWorkflowId(user.userId, requestId))
        .terminate('test wrote its log');
    }
  });
});

describe('OpenAI-compatible stream across a worker crash', () => {
  it('a SIGKILLed chat worker mid-stream: the client gets a continuous reply or a clean error, never mixed text', async () => {
    workers.push(await startToolWorker(sys, 60_000, ['chat']));
    const user = sys.newUser();
    const created = await sys.http(user.token, 'POST', '/v1/me/api-keys', {});
    const key = created.body.key as string;
    const url = `${sys.baseUrl}/v1/chat/completions`;
    const body = {
      model: sys.config.llm.model,
      messages: [
        { role: 'user', content: `Survive ${randomUUID()} [[tokens:60]] [[delay_ms:40]]` },
      ],
      stream: true,
    };
    const headers = { 'Idempotency-Key': randomUUID() };
    let killed = false;
    let replacement: Promise<ToolWorkerProcess> | undefined;
    const got = await postSse(url, key, body, {
      headers,
      onEvent: (events) => {
        if (killed || contentOf(events).length === 0 || events.length < 12) return;
        killed = true;
        workers[0]?.kill();
        replacement = startToolWorker(sys, 60_000, ['chat']);
      },
    });
    assert.ok(killed, 'the worker was killed mid-stream');
    workers.push(await replacement!);
    assert.equal(got.status, 200);
    const text = contentOf(got.events);
    const last = got.events.at(-1)?.data ?? '';

    // The finished reply, answered for the same key (the request ran once).
    const res = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ ...body, stream: false }),
    });
    assert.equal(res.status, 200);
    const final = ((await res.json()) as { choices: Array<{ message: { content: string } }> })
      .choices[0]!.message.content;
    if (last === '[DONE]') {
      assert.equal(text, final, 'one continuous reply: nothing twice, nothing missing');
    } else {
      assert.equal((JSON.parse(last) as { error: { code: string } }).error.code, 'llm_unavailable');
      assert.ok(final.startsWith(text), 'what was sent is the start of the real reply');
    }
    const attempts = sys.llm.stats.calls.filter(
      (c) => c.lastUserMessage === body.messages[0]!.content,
    );
    assert.ok(attempts.length >= 2, 'the LLM call was retried on the new worker');
    const rows = await waitForRows(sys.api.deps.db, user.userId, 1);
    assert.equal(rows.length, 1, 'billed once');
  });
});
