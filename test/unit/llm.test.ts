/**
 * The embedded local LLM, driven through the official `openai` client (and raw
 * fetch for malformed input). Each test starts its own server on a free port.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI, { APIError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';
import { countPromptTokens, countTextTokens, modelInfo } from '../../prompt/tokens';
import { parseDirectives } from '../../local-llm/directives';
import { startLocalLlm, type LocalLlm } from '../../local-llm/server';

const MODEL = 'gpt-4o-mini';
const ENCODING = modelInfo(MODEL).encoding;

async function withLlm(fn: (llm: LocalLlm, client: OpenAI) => Promise<void>): Promise<void> {
  const llm = await startLocalLlm({ port: 0 });
  try {
    await fn(llm, new OpenAI({ baseURL: llm.url, apiKey: 'x', maxRetries: 0 }));
  } finally {
    await llm.close();
  }
}

function user(content: string): ChatCompletionMessageParam[] {
  return [{ role: 'user', content }];
}

/** Streams a completion and collects its chunks. */
async function streamChunks(
  client: OpenAI,
  messages: ChatCompletionMessageParam[],
  extra: { max_tokens?: number } = {},
): Promise<ChatCompletionChunk[]> {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages,
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

function contentOf(chunks: ChatCompletionChunk[]): string {
  return chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
}

function contentChunks(chunks: ChatCompletionChunk[]): number {
  return chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '').length;
}

async function complete(client: OpenAI, messages: ChatCompletionMessageParam[]): Promise<string> {
  const r = await client.chat.completions.create({ model: MODEL, messages });
  return r.choices[0]?.message.content ?? '';
}

void describe('directives', () => {
  void test('parses every directive and removes them from the text', () => {
    const d = parseDirectives(
      'hi [[tokens:50]] there [[delay_ms:20]][[fail:503]] [[fail_once:429]] [[cut_after:5]] [[tool:calc {"expression":"1+1"}]] end',
    );
    assert.equal(d.text, 'hi there end');
    assert.equal(d.tokens, 50);
    assert.equal(d.delayMs, 20);
    assert.equal(d.fail, 503);
    assert.equal(d.failOnce, 429);
    assert.equal(d.cutAfter, 5);
    assert.deepEqual(d.tools, [{ name: 'calc', arguments: '{"expression":"1+1"}' }]);
  });

  void test('tool JSON may contain "]]"; a tool without arguments gets {}', () => {
    const d = parseDirectives('[[tool:a {"x":[[1,2]],"s":"]]"}]] and [[tool:b]]');
    assert.deepEqual(d.tools, [
      { name: 'a', arguments: '{"x":[[1,2]],"s":"]]"}' },
      { name: 'b', arguments: '{}' },
    ]);
    assert.equal(d.text, 'and');
  });

  void test('tool JSON holding hundreds of "]]" is recognised (read in one pass)', () => {
    const nested = `${'['.repeat(150)}1${']'.repeat(150)}`;
    const strings = Array.from({ length: 200 }, (_, i) => `"s${i}]]"`).join(',');
    const args = `{"deep":${nested},"list":[${strings}],"q":"a \\" ]] b"}`;
    assert.ok(args.split(']]').length > 250);
    const d = parseDirectives(`before [[tool:lookup ${args}]] after`);
    assert.deepEqual(d.tools, [{ name: 'lookup', arguments: args }]);
    assert.equal(d.text, 'before after');
    assert.deepEqual(JSON.parse(d.tools[0]!.arguments).q, 'a " ]] b');
  });

  void test('an unclosed tool JSON or text after it is not a directive', () => {
    for (const text of ['[[tool:a {"x":[1,2]', '[[tool:a {"x":1} extra]]', '[[tool:a {"x":"]]']) {
      const d = parseDirectives(text);
      assert.deepEqual(d.tools, [], text);
      assert.equal(d.text, text);
    }
  });

  void test('[[reply:"..."]] takes one JSON string, kept as given (newlines, "]]" and all)', () => {
    const d = parseDirectives('x [[reply: "# Title\\n\\n- a ]] b\\n"]] y [[reply:"second"]]');
    assert.equal(d.reply, '# Title\n\n- a ]] b\n', 'the first one wins');
    assert.equal(d.text, 'x y');
    for (const text of [
      '[[reply:{"a":1}]]',
      '[[reply:"unclosed]]',
      '[[reply:"x" extra]]',
      '[[reply:"bad \\q"]]',
    ]) {
      const bad = parseDirectives(text);
      assert.equal(bad.reply, undefined, text);
      assert.equal(bad.text, text);
    }
  });

  void test('bad syntax and out-of-range values stay as text', () => {
    const text = 'a [[tokens:abc]] [[fail:200]] [[tool:x {bad json}]] [[nope:1]] [[tokens:5 b';
    const d = parseDirectives(text);
    assert.equal(d.text, text);
    assert.equal(d.tokens, undefined);
    assert.equal(d.fail, undefined);
    assert.deepEqual(d.tools, []);
  });
});

void describe('local LLM', () => {
  void test('streams a default reply with exact usage in a final usage chunk', () =>
    withLlm(async (_llm, client) => {
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'What is the weather like on the moon today?' },
      ];
      const chunks = await streamChunks(client, messages);
      const text = contentOf(chunks);
      assert.match(text, /^\(messages: 4\) /);
      const last = chunks.at(-1)!;
      assert.deepEqual(last.choices, []);
      assert.equal(last.usage?.prompt_tokens, countPromptTokens(messages as never, ENCODING));
      assert.equal(last.usage?.completion_tokens, countTextTokens(text, ENCODING));
      assert.equal(
        last.usage?.total_tokens,
        last.usage.prompt_tokens + last.usage.completion_tokens,
      );
      const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(finish, ['stop']);
      const tokens = countTextTokens(text, ENCODING);
      assert.ok(tokens >= 10 && tokens <= 40, `reply of ${tokens} tokens`);
    }));

  void test('[[no_usage]] reports no usage, streamed or not (as some providers do)', () =>
    withLlm(async (_llm, client) => {
      const chunks = await streamChunks(client, user('count it yourself [[no_usage]]'));
      assert.ok(chunks.length > 0);
      assert.ok(
        chunks.every((c) => !c.usage),
        'no usage chunk',
      );
      assert.doesNotMatch(contentOf(chunks), /no_usage/);
      const r = await client.chat.completions.create({
        model: MODEL,
        messages: user('x [[no_usage]]'),
      });
      assert.equal(r.usage, undefined);
    }));

  void test('replies are deterministic, streamed or not', () =>
    withLlm(async (_llm, client) => {
      const messages = user('Tell me something about rivers and stones, please.');
      const a = await complete(client, messages);
      const b = await complete(client, messages);
      const c = contentOf(await streamChunks(client, messages));
      assert.equal(a, b);
      assert.equal(a, c);
      assert.match(a, /^\(messages: 1\) /);
      assert.notEqual(a, await complete(client, user('Something else entirely.')));
    }));

  void test('[[reply:"..."]] answers exactly that text, streamed or not, with its usage', () =>
    withLlm(async (_llm, client) => {
      const given = '# Plan\n\n- one\n- two\n\n```sh\necho <b>hi</b>\n```';
      const messages = user(`tell me [[reply:${JSON.stringify(given)}]]`);
      const chunks = await streamChunks(client, messages);
      assert.equal(contentOf(chunks), given);
      assert.ok(contentChunks(chunks) > 5, 'streamed token by token');
      assert.equal(chunks.at(-1)?.usage?.completion_tokens, countTextTokens(given, ENCODING));
      assert.equal(await complete(client, messages), given);
    }));

  void test('directives are removed from the echoed text', () =>
    withLlm(async (_llm, client) => {
      const text = await complete(client, user('hello [[delay_ms:1]] world'));
      assert.match(text, /hello world/);
      assert.doesNotMatch(text, /\[\[|delay_ms/);
    }));

  void test('[[tokens:50]] gives exactly 50 tokens in 50 content chunks', () =>
    withLlm(async (_llm, client) => {
      const chunks = await streamChunks(client, user('long one [[tokens:50]]'));
      assert.equal(contentChunks(chunks), 50);
      assert.equal(countTextTokens(contentOf(chunks), ENCODING), 50);
      assert.equal(chunks.at(-1)?.usage?.completion_tokens, 50);

      // Another encoding (cl100k_base), not streamed.
      const r = await client.chat.completions.create({
        model: 'gpt-4',
        messages: user('long one [[tokens:50]]'),
      });
      assert.equal(r.usage?.completion_tokens, 50);
      assert.equal(countTextTokens(r.choices[0]?.message.content ?? '', 'cl100k_base'), 50);
    }));

  void test('[[delay_ms:N]] spaces the streamed tokens', () =>
    withLlm(async (_llm, client) => {
      const started = Date.now();
      const chunks = await streamChunks(client, user('slow [[tokens:10]] [[delay_ms:30]]'));
      const elapsed = Date.now() - started;
      assert.equal(contentChunks(chunks), 10);
      assert.ok(elapsed >= 0.8 * 10 * 30, `took ${elapsed} ms`);
    }));

  void test('[[fail:500]] answers 500 every time, streamed or not', () =>
    withLlm(async (_llm, client) => {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(complete(client, user('boom [[fail:500]]')), (err: unknown) => {
          assert.ok(err instanceof APIError);
          assert.equal(err.status, 500);
          return true;
        });
      }
      await assert.rejects(streamChunks(client, user('boom [[fail:500]]')), { status: 500 });
    }));

  void test('[[fail_once:429]] answers 429 the first time, then normally', () =>
    withLlm(async (_llm, client) => {
      const messages = user('flaky [[fail_once:429]]');
      await assert.rejects(complete(client, messages), { status: 429 });
      assert.match(await complete(client, messages), /^\(messages: 1\) You said: flaky/);
    }));

  void test('[[cut_after:5]] drops the stream after 5 tokens the first time only', () =>
    withLlm(async (_llm, client) => {
      const messages = user('cut me [[tokens:20]] [[cut_after:5]]');
      const seen: ChatCompletionChunk[] = [];
      const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
      await assert.rejects(async () => {
        for await (const c of stream) seen.push(c);
      });
      assert.equal(contentChunks(seen), 5);
      const again = await streamChunks(client, messages);
      assert.equal(contentChunks(again), 20);
      assert.equal(countTextTokens(contentOf(again), ENCODING), 20);
    }));

  void test('[[tool:...]] calls the tool, then quotes its result (not streamed)', () =>
    withLlm(async (_llm, client) => {
      const ask = 'compute [[tool:calculator {"expression":"2+2"}]]';
      const first = await client.chat.completions.create({
        model: MODEL,
        messages: user(ask),
        tools: [{ type: 'function', function: { name: 'calculator', parameters: {} } }],
      });
      const choice = first.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls');
      assert.equal(choice.message.content, null);
      const call = choice.message.tool_calls?.[0];
      assert.ok(call?.type === 'function');
      assert.match(call.id, /^call_[0-9a-f]+$/);
      assert.equal(call.function.name, 'calculator');
      assert.deepEqual(JSON.parse(call.function.arguments), { expression: '2+2' });
      const again = await client.chat.completions.create({ model: MODEL, messages: user(ask) });
      assert.equal(again.choices[0]?.message.tool_calls?.[0]?.id, call.id);

      const second = await complete(client, [
        ...user(ask),
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '4' },
      ]);
      assert.equal(second, 'Tool calculator returned: 4');
    }));

  void test('[[tool:...]] streams tool-call deltas, then the quoted result', () =>
    withLlm(async (_llm, client) => {
      const ask = 'look up [[tool:lookup {"q":"rivers","n":3}]] [[delay_ms:2]]';
      const chunks = await streamChunks(client, user(ask));
      let id = '';
      let name = '';
      let args = '';
      for (const c of chunks) {
        for (const t of c.choices[0]?.delta.tool_calls ?? []) {
          assert.equal(t.index, 0);
          id += t.id ?? '';
          name += t.function?.name ?? '';
          args += t.function?.arguments ?? '';
        }
      }
      assert.match(id, /^call_/);
      assert.equal(name, 'lookup');
      assert.deepEqual(JSON.parse(args), { q: 'rivers', n: 3 });
      const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
      assert.deepEqual(finish, ['tool_calls']);
      assert.equal(
        chunks.at(-1)?.usage?.completion_tokens,
        countTextTokens('lookup', ENCODING) + countTextTokens(args, ENCODING),
      );

      const after = await streamChunks(client, [
        ...user(ask),
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name, arguments: args } }],
        },
        { role: 'tool', tool_call_id: id, content: '{"rivers":["Nile"]}' },
      ]);
      assert.equal(contentOf(after), 'Tool lookup returned: {"rivers":["Nile"]}');
    }));

  void test('max_tokens truncates the reply with finish_reason "length"', () =>
    withLlm(async (_llm, client) => {
      const r = await client.chat.completions.create({
        model: MODEL,
        messages: user('a long answer please [[tokens:50]]'),
        max_tokens: 7,
      });
      assert.equal(r.choices[0]?.finish_reason, 'length');
      assert.equal(r.usage?.completion_tokens, 7);
      assert.equal(countTextTokens(r.choices[0]?.message.content ?? '', ENCODING), 7);

      const chunks = await streamChunks(client, user('short please'), { max_tokens: 3 });
      assert.equal(contentChunks(chunks), 3);
      assert.deepEqual(chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean), ['length']);
    }));

  void test('asked to summarise, it answers a short "Summary: ..."', () =>
    withLlm(async (_llm, client) => {
      const doc = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
      const text = await complete(client, [
        { role: 'system', content: 'Summarize the following document chunk.' },
        { role: 'user', content: doc },
      ]);
      assert.match(text, /^Summary: word0 word1 /);
      assert.ok(countTextTokens(text, ENCODING) < countTextTokens(doc, ENCODING) / 4);
      assert.equal(
        text,
        await complete(client, [
          { role: 'system', content: 'Summarize the following document chunk.' },
          { role: 'user', content: doc },
        ]),
      );
    }));

  void test('counts calls in stats, and resets them', () =>
    withLlm(async (llm, client) => {
      await complete(client, user('one'));
      await streamChunks(client, user('two'));
      await assert.rejects(complete(client, user('three [[fail:503]]')), { status: 503 });
      assert.equal(llm.stats.requests, 3);
      assert.deepEqual(
        llm.stats.calls.map((c) => [c.lastUserMessage, c.stream, c.status, c.messageCount]),
        [
          ['one', false, 200, 1],
          ['two', true, 200, 1],
          ['three [[fail:503]]', false, 503, 1],
        ],
      );
      assert.equal(llm.stats.calls[0]?.model, MODEL);
      assert.equal(llm.stats.calls[0]?.tools, false);
      llm.resetStats();
      assert.equal(llm.stats.requests, 0);
      assert.equal(llm.stats.calls.length, 0);
    }));

  void test('rejects bad input with OpenAI-style errors and never falls over', () =>
    withLlm(async (llm) => {
      const post = (body: string): Promise<Response> =>
        fetch(`${llm.url}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
      const bad = await post('{"model": "gpt-4o", "messages": [');
      assert.equal(bad.status, 400);
      const err = (await bad.json()) as { error: { message: string; type: string; code: string } };
      assert.equal(typeof err.error.message, 'string');
      assert.equal(err.error.type, 'invalid_request_error');
      assert.equal(typeof err.error.code, 'string');

      assert.equal((await post('{"model":"gpt-4o"}')).status, 400);
      assert.equal((await post('{"messages":[{"role":"user","content":5}]}')).status, 400);
      assert.equal((await post('[]')).status, 400);
      assert.equal(
        (await post(JSON.stringify({ messages: user('x'), max_tokens: -1 }))).status,
        400,
      );
      assert.equal((await post('x'.repeat(9 * 1024 * 1024))).status, 413);

      const missing = await fetch(`${llm.url}/nope`);
      assert.equal(missing.status, 404);
      assert.ok(((await missing.json()) as { error?: unknown }).error);

      const models = (await (await fetch(`${llm.url}/models`)).json()) as {
        data: { id: string }[];
      };
      assert.ok(models.data.some((m) => m.id === 'gpt-4o-mini'));
      const health = await fetch(`${llm.url.replace(/\/v1$/, '')}/healthz`);
      assert.equal(health.status, 200);

      // Still serving after all that.
      assert.equal((await post(JSON.stringify({ messages: user('fine') }))).status, 200);
    }));

  void test('a client that aborts mid-stream leaves the server healthy', () =>
    withLlm(async (llm, client) => {
      const controller = new AbortController();
      const stream = await client.chat.completions.create(
        { model: MODEL, messages: user('slow [[tokens:100]] [[delay_ms:20]]'), stream: true },
        { signal: controller.signal },
      );
      let got = 0;
      const started = Date.now();
      try {
        for await (const c of stream) {
          if (c.choices[0]?.delta.content) got++;
          if (got === 3) controller.abort();
        }
      } catch {
        // The client may end the iteration quietly or with an abort error.
      }
      assert.equal(got, 3);
      assert.ok(Date.now() - started < 100 * 20, 'the stream ended at the abort');
      assert.match(await complete(client, user('still there?')), /^\(messages: 1\)/);
      assert.equal(llm.stats.requests, 2);
    }));
});
