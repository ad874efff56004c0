/**
 * The OpenAI-compatible API (docs/API.md "OpenAI-compatible API") on the real stack,
 * through the official `openai` client with an API key, and through raw HTTP for the
 * durable-stream guarantees (resume with Idempotency-Key + Last-Event-ID, replay
 * without an LLM call, an LLM connection cut mid-stream).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { requestIdForKey } from '../../api/openai/routes';
import { chatWorkflowId } from '../../contracts/chat';
import type { chatWorkflow } from '../../workflows/chat';
import { startSystem, type TestSystem } from '../../testkit/system';
import { contentOf, postSse, type SseMessage } from '../../testkit/sse';
import { waitForRows } from '../../testkit/usage';
import { eventually } from '../../testkit/poll';

let sys: TestSystem;

/** A model whose prompt budget is small: 1400 - 1024 (completion) - 128 (margin) = 248 tokens. */
const TINY_MODEL = 'tiny-ctx';
/** Chat requests per user per minute in this file (each test's user stays below it). */
const RATE_LIMIT = 5;

before(async () => {
  sys = await startSystem({
    env: {
      MODEL_TABLE: JSON.stringify({
        [TINY_MODEL]: { encoding: 'o200k_base', contextWindow: 1400 },
      }),
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
    },
  });
});
after(async () => {
  await sys?.stop();
});

/** A new user with an API key and an `openai` client using it. */
async function newKeyUser(plan: 'free' | 'pro' = 'free') {
  const user = sys.newUser(plan);
  const res = await sys.http(user.token, 'POST', '/v1/me/api-keys', { name: 'sdk' });
  assert.equal(res.status, 201);
  const key = res.body.key as string;
  const client = new OpenAI({ apiKey: key, baseURL: `${sys.baseUrl}/v1`, maxRetries: 0 });
  return { ...user, key, keyId: res.body.keyId as string, client };
}

const completionsUrl = () => `${sys.baseUrl}/v1/chat/completions`;
const chunks = (events: SseMessage[]) =>
  events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Record<string, any>);

describe('OpenAI-compatible API through the openai client', () => {
  it('lists models', async () => {
    const { client } = await newKeyUser();
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === sys.config.llm.model));
    for (const m of models.data) assert.equal(m.object, 'model');
  });

  it('answers a non-streamed completion, billed once with no session, nothing stored', async () => {
    const { client, userId } = await newKeyUser();
    const completion = await client.chat.completions.create({
      model: sys.config.llm.model,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello [[tokens:12]]' },
      ],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.match(completion.id, /^chatcmpl-/);
    assert.equal(completion.model, sys.config.llm.model);
    assert.equal(typeof completion.created, 'number');
    const choice = completion.choices[0]!;
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.role, 'assistant');
    assert.ok(choice.message.content && choice.message.content.length > 0);
    assert.equal(completion.usage?.completion_tokens, 12);
    assert.equal(completion.usage?.total_tokens, completion.usage.prompt_tokens + 12);

    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.session_id, null);
    assert.equal(rows[0]?.total_tokens, completion.usage?.total_tokens);
    const requestId = completion.id.slice('chatcmpl-'.length);
    const stored = await sys.api.deps.db.query(
      'SELECT 1 FROM chat_messages WHERE request_id = $1',
      [requestId],
    );
    assert.equal(stored.rowCount, 0, 'a stateless completion stores no message');
    const metrics = await fetch(`${sys.baseUrl}/metrics`).then((r) => r.text());
    assert.match(metrics, /chat_requests_total\{method="openai",status="done"\} [1-9]/);
  });

  it('streams chunks ending with [DONE]; include_usage adds a last chunk with usage and no choices', async () => {
    const { client } = await newKeyUser();
    const stream = await client.chat.completions.create({
      model: sys.config.llm.model,
      messages: [{ role: 'user', content: 'Stream to me [[tokens:15]]' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const got: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) got.push(chunk);
    // role chunk, content (tokens may be coalesced into fewer chunks), finish, usage
    assert.ok(got.length >= 4, `${got.length} chunks`);
    for (const c of got) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, got[0]!.id);
    }
    assert.equal(got[0]!.choices[0]?.delta.role, 'assistant');
    const last = got.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage?.completion_tokens, 15);
    const finish = got.filter((c) => c.choices[0]?.finish_reason);
    assert.equal(finish.length, 1);
    assert.equal(finish[0]!.choices[0]!.finish_reason, 'stop');
    const text = got.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.ok(text.length > 0);
    for (const c of got.slice(0, -1)) assert.equal(c.usage, null);
  });

  it('passes client tools through: tool_calls come back, and the tool result is answered', async () => {
    const { client } = await newKeyUser();
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
          },
        },
      },
    ];
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'Weather in Paris? [[tool:get_weather {"city":"Paris"}]]' },
    ];
    const first = await client.chat.completions.create({
      model: sys.config.llm.model,
      messages,
      tools,
      tool_choice: 'auto',
    });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    // The server's own tools were not offered, and nothing ran here.
    const llmCall = sys.llm.stats.calls
      .filter((c) => c.lastUserMessage.startsWith('Weather in Paris'))
      .at(-1);
    assert.equal(llmCall?.tools, true);

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: '{"tempC":21}' });
    // Streamed this time: the round trip works both ways.
    const stream = await client.chat.completions.create({
      model: sys.config.llm.model,
      messages,
      tools,
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'stop');
    assert.match(text, /get_weather returned: \{"tempC":21\}/);
  });

  it('streams client tool calls as tool_calls deltas with finish_reason tool_calls', async () => {
    const { client } = await newKeyUser();
    const stream = await client.chat.completions.create({
      model: sys.config.llm.model,
      messages: [{ role: 'user', content: 'Look it up [[tool:lookup {"q":"x"}]]' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      stream: true,
    });
    const calls: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null | undefined;
    for await (const c of stream) {
      calls.push(...(c.choices[0]?.delta.tool_calls ?? []));
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(calls[0]?.function?.name, 'lookup');
    assert.deepEqual(JSON.parse(calls[0]?.function?.arguments ?? ''), { q: 'x' });
  });

  it('a quota refusal is the SDK RateLimitError (429 with Retry-After), streamed or not', async () => {
    const { client, userId } = await newKeyUser();
    await client.models.list(); // the user exists
    await sys.api.deps.db.query(
      'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 10)',
      [userId],
    );
    for (const stream of [false, true]) {
      await assert.rejects(
        client.chat.completions.create({
          model: sys.config.llm.model,
          messages: [{ role: 'user', content: 'too much' }],
          stream,
        }),
        (err: unknown) => {
          assert.ok(err instanceof RateLimitError, String(err));
          assert.equal(err.status, 429);
          assert.equal(err.code, 'quota_exceeded');
          assert.ok(Number(err.headers?.get('retry-after')) > 0);
          return true;
        },
      );
    }
  });

  it('the per-user rate limit is the SDK RateLimitError (rate_limited, Retry-After); replays are not limited', async () => {
    const { client } = await newKeyUser();
    const ask = (key: string) =>
      client.chat.completions.create(
        { model: sys.config.llm.model, messages: [{ role: 'user', content: 'quick' }] },
        { headers: { 'Idempotency-Key': key } },
      );
    for (let i = 0; i < RATE_LIMIT; i++) await ask(`rate-${i}`);
    await assert.rejects(ask('rate-over'), (err: unknown) => {
      assert.ok(err instanceof RateLimitError, String(err));
      assert.equal(err.code, 'rate_limited');
      assert.ok(Number(err.headers?.get('retry-after')) > 0);
      return true;
    });
    // The same key again is a replay of a request already run: answered, not limited.
    const replay = await ask('rate-0');
    assert.equal(replay.object, 'chat.completion');
  });

  it('a revoked key is the SDK AuthenticationError', async () => {
    const { client, token, keyId } = await newKeyUser();
    await client.models.list();
    await sys.http(token, 'DELETE', `/v1/me/api-keys/${keyId}`);
    // The revocation reaches the key cache through pub/sub: wait until a read is refused.
    await eventually('the key refused', () =>
      client.models.list().then(
        () => false,
        (err: unknown) => err instanceof AuthenticationError,
      ),
    );
    await assert.rejects(
      client.chat.completions.create({
        model: sys.config.llm.model,
        messages: [{ role: 'user', content: 'hi' }],
      }),
      (err: unknown) => err instanceof AuthenticationError && err.status === 401,
    );
  });

  it('refuses text it cannot store (NUL, lone surrogates) with bad_request; nothing is billed', async () => {
    const { client, userId } = await newKeyUser();
    const model = sys.config.llm.model;
    const bad: Array<Parameters<typeof client.chat.completions.create>[0]> = [
      { model, messages: [{ role: 'user', content: 'a \u0000 b' }] },
      { model, messages: [{ role: 'user', content: [{ type: 'text', text: 'x \ud800 y' }] }] },
      {
        model,
        messages: [
          { role: 'user', content: 'add' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'c1',
                type: 'function',
                function: { name: 'add', arguments: '{"a":"\udfff"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'c1', content: '3' },
        ],
      },
    ];
    for (const body of bad) {
      await assert.rejects(
        client.chat.completions.create({ ...body, stream: false }),
        (err: unknown) =>
          err instanceof BadRequestError &&
          err.code === 'bad_request' &&
          /NUL character|lone UTF-16 surrogate/.test(err.message),
        JSON.stringify(body),
      );
    }
    const { rowCount } = await sys.api.deps.db.query(
      'SELECT 1 FROM usage_records WHERE user_id = $1',
      [userId],
    );
    assert.equal(rowCount, 0, 'nothing billed');
  });

  it('refuses bad requests in OpenAI error shape', async () => {
    const { client, key } = await newKeyUser();
    await assert.rejects(
      client.chat.completions.create({ model: sys.config.llm.model, messages: [] }),
      (err: unknown) =>
        err instanceof BadRequestError && err.code === 'bad_request' && err.param === 'messages',
    );
    await assert.rejects(
      client.chat.completions.create({
        model: sys.config.llm.model,
        messages: [{ role: 'user', content: 'x' }],
        temperature: 7,
      }),
      (err: unknown) => err instanceof BadRequestError && err.param === 'temperature',
    );
    const res = await fetch(completionsUrl(), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': '',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(body.error.type, 'invalid_request_error');
    const noKey = await fetch(completionsUrl(), {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/json',
        'Last-Event-ID': '0000000001',
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(noKey.status, 400, 'Last-Event-ID without Idempotency-Key');
    const anon = await fetch(completionsUrl(), { method: 'POST' });
    assert.equal(anon.status, 401);
    assert.equal(
      ((await anon.json()) as { error: { type: string } }).error.type,
      'authentication_error',
    );
  });
});

describe('conversations', () => {
  it('stateless: trims oldest-first inside the context window, keeping system messages', async () => {
    const { client } = await newKeyUser();
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'SYSTEM-MARKER keep me' },
    ];
    for (let i = 0; i < 30; i++) {
      messages.push({
        role: i % 2 ? 'assistant' : 'user',
        content: `message number ${i} with a few more words to count`,
      });
    }
    messages.push({ role: 'user', content: 'the newest question' });
    const done = await client.chat.completions.create({ model: TINY_MODEL, messages });
    const call = sys.llm.stats.calls
      .filter((c) => c.lastUserMessage === 'the newest question')
      .at(-1);
    assert.ok(call);
    assert.ok(
      call.messageCount < messages.length,
      `trimmed: ${call.messageCount} of ${messages.length}`,
    );
    assert.ok(call.messageCount > 2);
    assert.equal(call.system, 'SYSTEM-MARKER keep me');
    assert.ok(
      call.promptTokens <= 1400 - 1024 - 128,
      `prompt ${call.promptTokens} tokens inside the budget`,
    );
    assert.match(
      done.choices[0]!.message.content ?? '',
      new RegExp(`^\\(messages: ${call.messageCount}\\)`),
    );

    await assert.rejects(
      client.chat.completions.create({
        model: TINY_MODEL,
        messages: [{ role: 'user', content: 'word '.repeat(400) }],
      }),
      (err: unknown) => err instanceof BadRequestError && err.code === 'context_too_large',
    );
  });

  it('takes long conversations (bodies past the frame limit, up to COMPLETION_MAX_BODY_BYTES); 413 beyond', async () => {
    const { client, key } = await newKeyUser();
    const filler = 'lorem ipsum dolor sit amet '.repeat(150); // ~4 KB
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [];
    for (let i = 0; i < 30; i++)
      messages.push({ role: i % 2 ? 'assistant' : 'user', content: `${i} ${filler}` });
    messages.push({ role: 'user', content: 'long body question' });
    assert.ok(JSON.stringify(messages).length > sys.config.maxPayloadBytes);
    const done = await client.chat.completions.create({ model: sys.config.llm.model, messages });
    assert.equal(done.choices[0]?.finish_reason, 'stop');

    const huge = await fetch(completionsUrl(), {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'x'.repeat(sys.config.completionMaxBodyBytes) }],
      }),
    });
    assert.equal(huge.status, 413);
    const body = (await huge.json()) as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'payload_too_large');
    assert.equal(body.error.type, 'invalid_request_error');
  });

  it('X-Session-Id: stores the exchange, uses the stored history and the summary', async () => {
    const { client, key, token } = await newKeyUser();
    const sessionId = await sys.createSession(key);
    const db = sys.api.deps.db;
    await db.query(
      `INSERT INTO chat_summaries (session_id, summary, watermark_message_id, tokens, model)
       VALUES ($1, 'SUMMARY-MARKER earlier talk', 0, 30, 'x')`,
      [sessionId],
    );
    const opts = { headers: { 'X-Session-Id': sessionId } };
    const first = await client.chat.completions.create(
      {
        model: sys.config.llm.model,
        messages: [
          { role: 'system', content: 'client system' },
          { role: 'user', content: 'first turn' },
        ],
      },
      opts,
    );
    // system prompt (server's + client's) + summary + the user message.
    assert.match(first.choices[0]!.message.content ?? '', /^\(messages: 3\)/);
    const second = await client.chat.completions.create(
      { model: sys.config.llm.model, messages: [{ role: 'user', content: 'second turn' }] },
      opts,
    );
    // + the first exchange (user, assistant) from the session's history.
    assert.match(second.choices[0]!.message.content ?? '', /^\(messages: 5\)/);
    // The client's system message joins the server's system prompt for its request only.
    const firstCall = sys.llm.stats.calls.filter((c) => c.lastUserMessage === 'first turn').at(-1);
    assert.match(firstCall?.system ?? '', /^You are a helpful[\s\S]*\n\nclient system$/);
    const secondCall = sys.llm.stats.calls
      .filter((c) => c.lastUserMessage === 'second turn')
      .at(-1);
    assert.doesNotMatch(secondCall?.system ?? '', /client system/);

    const res = await sys.http(token, 'GET', `/v1/sessions/${sessionId}/messages`);
    assert.deepEqual(
      (res.body.messages as Array<{ role: string; content: string }>).map((m) => [
        m.role,
        m.content,
      ]),
      [
        ['user', 'first turn'],
        ['assistant', first.choices[0]!.message.content],
        ['user', 'second turn'],
        ['assistant', second.choices[0]!.message.content],
      ],
    );
  });

  it("another user's session (or no such session) answers 404", async () => {
    const a = await newKeyUser();
    const b = await newKeyUser();
    const sessionId = await sys.createSession(a.key);
    for (const id of [sessionId, randomUUID(), 'not-a-uuid']) {
      for (const stream of [false, true]) {
        await assert.rejects(
          b.client.chat.completions.create(
            {
              model: sys.config.llm.model,
              messages: [{ role: 'user', content: 'let me in' }],
              stream,
            },
            { headers: { 'X-Session-Id': id } },
          ),
          (err: unknown) => err instanceof NotFoundError && err.code === 'not_found',
        );
      }
    }
    const stored = await sys.api.deps.db.query(
      'SELECT count(*)::int AS n FROM chat_messages WHERE session_id = $1',
      [sessionId],
    );
    assert.equal(stored.rows[0]?.n, 0);
  });

  it('a session deleted after the API checked it ends the completion `cancelled` (409)', async () => {
    const { client, key } = await newKeyUser();
    const sessionId = await sys.createSession(key);
    const { deps } = sys.api;
    // The session goes between the API's check and the request's first step.
    deps.chatRunner = async (input) => {
      await deps.db.query('DELETE FROM chat_sessions WHERE id = $1', [input.sessionId]);
      await sys.temporal.workflow.start<typeof chatWorkflow>('chatWorkflow', {
        taskQueue: sys.config.taskQueues.chat,
        workflowId: chatWorkflowId(input.userId, input.requestId),
        args: [input],
      });
      return 'started';
    };
    try {
      await assert.rejects(
        client.chat.completions.create(
          { model: sys.config.llm.model, messages: [{ role: 'user', content: 'still there?' }] },
          { headers: { 'X-Session-Id': sessionId } },
        ),
        (err: unknown) => err instanceof APIError && err.status === 409 && err.code === 'cancelled',
      );
    } finally {
      delete deps.chatRunner;
    }
  });
});

describe('durable streams (raw HTTP)', () => {
  it('every event has an id; an aborted stream resumes after Last-Event-ID exactly once; the key replays without an LLM call', async () => {
    const { key, userId } = await newKeyUser();
    const idempotencyKey = `resume-${randomUUID()}`;
    const body = {
      messages: [{ role: 'user', content: 'Resume me [[tokens:40]] [[delay_ms:30]]' }],
      stream: true,
      stream_options: { include_usage: true },
    };
    const headers = { 'Idempotency-Key': idempotencyKey };
    const firstPart = await postSse(completionsUrl(), key, body, {
      headers,
      stopWhen: (events) => contentOf(events).length > 0 && events.length >= 10,
    });
    assert.equal(firstPart.status, 200);
    for (const e of firstPart.events) assert.ok(e.id, 'every event has an id');
    const lastId = firstPart.events.at(-1)!.id!;

    const rest = await postSse(completionsUrl(), key, body, {
      headers: { ...headers, 'Last-Event-ID': lastId },
    });
    assert.equal(rest.status, 200);
    assert.equal(rest.events.at(-1)?.data, '[DONE]');
    for (const e of rest.events) assert.ok(e.id, 'every event has an id');
    const ids = [...firstPart.events, ...rest.events].map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');

    // The whole stream again from the start: the same events, ids and text.
    const llmCallsBefore = sys.llm.stats.requests;
    const whole = await postSse(completionsUrl(), key, body, { headers });
    assert.deepEqual(
      whole.events.map((e) => [e.id, e.data]),
      [...firstPart.events, ...rest.events].map((e) => [e.id, e.data]),
      'resumed = one stream, no duplicate, no gap',
    );
    const text = contentOf([...firstPart.events, ...rest.events]);
    const usage = chunks(rest.events).at(-1)?.usage;
    assert.equal(usage?.completion_tokens, 40);

    // Non-streamed with the same key: the same completion, no new LLM call.
    const res = await fetch(completionsUrl(), {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ ...body, stream: false }),
    });
    const completion = (await res.json()) as Record<string, any>;
    assert.equal(completion.choices[0].message.content, text);
    assert.equal(completion.id, `chatcmpl-${requestIdForKey(userId, idempotencyKey)}`);
    assert.equal(sys.llm.stats.requests, llmCallsBefore, 'replays make no LLM call');

    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows.length, 1, 'one ledger row');
    const ledger = await sys.api.deps.db.query(
      'SELECT count(*)::int AS n FROM usage_records WHERE user_id = $1',
      [userId],
    );
    assert.equal(ledger.rows[0]?.n, 1);
  });

  it('an LLM connection cut mid-stream: the retry repeats what was sent and the stream continues seamlessly', async () => {
    const { key, userId } = await newKeyUser();
    const body = {
      messages: [{ role: 'user', content: `Cut me ${randomUUID()} [[tokens:30]] [[cut_after:8]]` }],
      stream: true,
    };
    const headers = { 'Idempotency-Key': randomUUID() };
    const got = await postSse(completionsUrl(), key, body, { headers });
    assert.equal(got.status, 200);
    assert.equal(got.events.at(-1)?.data, '[DONE]');
    assert.ok(!got.events.some((e) => e.data.includes('"error"')), 'no error event');
    const text = contentOf(got.events);
    // The reply as stored by the workflow (non-streamed replay of the same key).
    const res = await fetch(completionsUrl(), {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify({ ...body, stream: false }),
    });
    const completion = (await res.json()) as Record<string, any>;
    assert.equal(text, completion.choices[0].message.content, 'no text twice, none missing');
    assert.equal(completion.usage.completion_tokens, 30);
    const attempts = sys.llm.stats.calls.filter(
      (c) => c.lastUserMessage === body.messages[0]!.content,
    );
    assert.equal(attempts.length, 2, 'the cut attempt and its retry');
    const rows = await waitForRows(sys.api.deps.db, userId, 1);
    assert.equal(rows.length, 1);
  });
});
