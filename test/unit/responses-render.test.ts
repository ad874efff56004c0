/**
 * The Responses rendering of a request's log (api/responses/render.ts) and the parsing of
 * `POST /v1/responses` (api/responses/request.ts), without services. The rendering is
 * read back through the `openai` package's own stream accumulator
 * (`ResponseStream.fromReadableStream`), so what a client library rebuilds from the
 * events is checked against the `response` object the API answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseStream } from 'openai/lib/responses/ResponseStream';
import type { RequestEvent } from '../../contracts/protocol';
import { AppError } from '../../api/errors';
import {
  ResponseRenderer,
  type ResponseMeta,
  type ResponseStreamEvent,
} from '../../api/responses/render';
import { parseResponseRequest } from '../../api/responses/request';

const meta: ResponseMeta = {
  id: 'resp_0123456789abcdef0123456789abcdef',
  createdAt: 1_700_000_000,
  model: 'local-model',
  background: true,
  store: true,
  previousResponseId: null,
  metadata: { k: 'v' },
};

const usage: RequestEvent = {
  type: 'usage',
  promptTokens: 7,
  completionTokens: 3,
  totalTokens: 10,
  quota: { dailyUsed: 10, dailyLimit: 100 },
};

function render(log: RequestEvent[]) {
  const r = new ResponseRenderer(meta);
  const events: ResponseStreamEvent[] = [...r.begin()];
  for (const e of log) events.push(...r.push(e));
  return { r, events };
}

/** What the openai package's accumulator makes of the events. */
async function accumulate(events: readonly ResponseStreamEvent[]) {
  const body = events.map((e) => `${JSON.stringify(e)}\n`).join('');
  const stream = ResponseStream.fromReadableStream(new Response(body).body!);
  return stream.finalResponse();
}

/** Without the fields the SDK's parser adds (`parsed`, `output_parsed`, `output_text`...). */
const plain = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v), (k: string, x: unknown) =>
    ['parsed', 'output_parsed', 'output_text', 'parsed_arguments'].includes(k) ? undefined : x,
  );

const deltaText = (events: readonly ResponseStreamEvent[]) =>
  events
    .filter((e) => e.type === 'response.output_text.delta')
    .map((e) => e.delta as string)
    .join('');

describe('Responses rendering', () => {
  it('numbers events from 0 in order and ends with response.completed; the SDK rebuilds the same object', async () => {
    const { r, events } = render([
      { type: 'status', state: 'pruning' },
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo' },
      usage,
      { type: 'done', messageId: '1', content: 'Hello' },
    ]);
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal(r.status, 'completed');
    const object = r.object();
    assert.deepEqual((object.usage as { total_tokens: number }).total_tokens, 10);
    const rebuilt = await accumulate(events);
    assert.equal(rebuilt.output_text, 'Hello');
    assert.deepEqual(plain(rebuilt), plain(object));
  });

  it('a background response is created queued; the first log event makes it in_progress', () => {
    const { events } = render([{ type: 'status', state: 'pruning' }]);
    assert.equal((events[0]?.response as { status: string }).status, 'queued');
    assert.equal((events[1]?.response as { status: string }).status, 'in_progress');
  });

  it('a retry that repeats the text sends nothing twice; the rest continues the same item', () => {
    const { r, events } = render([
      { type: 'delta', content: 'abc' },
      { type: 'restart', reason: 'retry' },
      { type: 'delta', content: 'ab' },
      { type: 'delta', content: 'cde' },
      { type: 'done', messageId: '1', content: 'abcde' },
    ]);
    assert.equal(deltaText(events), 'abcde');
    assert.equal(r.status, 'completed');
    assert.equal(r.broken, false);
  });

  it('a retry that says something else ends the stream with an error event; the object holds the final reply', () => {
    const { r, events } = render([
      { type: 'delta', content: 'abc' },
      { type: 'restart', reason: 'retry' },
      { type: 'delta', content: 'xyz' },
      { type: 'delta', content: ' more' },
      { type: 'done', messageId: '1', content: 'xyz more' },
    ]);
    assert.equal(events.at(-1)?.type, 'error');
    assert.equal(events.at(-1)?.code, 'llm_unavailable');
    assert.equal(events.filter((e) => e.type === 'error').length, 1);
    assert.ok(r.broken);
    assert.equal(r.status, 'completed');
    const output = r.object().output as Array<{ content: Array<{ text: string }> }>;
    assert.equal(output[0]?.content[0]?.text, 'xyz more');
  });

  it('client tool calls are function_call items after the message', async () => {
    const call = {
      id: 'call_1',
      type: 'function' as const,
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    };
    const { r, events } = render([
      { type: 'done', messageId: '1', content: '', toolCalls: [call], finishReason: 'tool_calls' },
    ]);
    const output = r.object().output as Array<Record<string, unknown>>;
    assert.equal(output.length, 1);
    assert.equal(output[0]?.type, 'function_call');
    assert.equal(output[0]?.call_id, 'call_1');
    assert.equal(output[0]?.arguments, '{"city":"Paris"}');
    const rebuilt = await accumulate(events);
    assert.deepEqual(plain(rebuilt.output), plain(output));
  });

  it('a reply cut at max_output_tokens is incomplete', () => {
    const { r, events } = render([
      { type: 'delta', content: 'a' },
      { type: 'done', messageId: '1', content: 'a', finishReason: 'length' },
    ]);
    assert.equal(events.at(-1)?.type, 'response.incomplete');
    assert.deepEqual(r.object().incomplete_details, { reason: 'max_output_tokens' });
  });

  it('errors end as response.failed with the error, cancel as response.cancelled; nothing follows', () => {
    const failed = render([
      { type: 'error', code: 'quota_exceeded', message: 'no quota' },
      { type: 'delta', content: 'late' },
    ]);
    assert.equal(failed.events.at(-1)?.type, 'response.failed');
    assert.deepEqual(failed.r.object().error, { code: 'quota_exceeded', message: 'no quota' });
    const cancelled = render([
      { type: 'delta', content: 'part' },
      { type: 'error', code: 'cancelled', message: 'stop' },
    ]);
    assert.equal(cancelled.events.at(-1)?.type, 'response.cancelled');
    assert.equal(cancelled.r.status, 'cancelled');
  });

  it('the same log renders the same events (what re-attach by sequence_number relies on)', () => {
    const log: RequestEvent[] = [
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'x' },
      { type: 'done', messageId: '1', content: 'xy' },
    ];
    assert.deepEqual(render(log).events, render(log).events);
  });
});

describe('POST /v1/responses body', () => {
  const bad = (body: unknown, param?: string) =>
    assert.throws(
      () => parseResponseRequest(body),
      (err: unknown) =>
        err instanceof AppError && err.spec.code === 'bad_request' && err.param === param,
      JSON.stringify(body),
    );

  it('maps a string input, instructions, tools and sampling onto the chat request', () => {
    const p = parseResponseRequest({
      input: 'hi',
      instructions: 'be brief',
      max_output_tokens: 9,
      temperature: 0.5,
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
      tool_choice: { type: 'function', name: 'f' },
      metadata: { a: 'b' },
    });
    assert.deepEqual(p.completion.messages, [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ]);
    assert.deepEqual(p.completion.tools, [
      { type: 'function', function: { name: 'f', parameters: { type: 'object' } } },
    ]);
    assert.deepEqual(p.completion.toolChoice, { type: 'function', function: { name: 'f' } });
    assert.deepEqual(p.completion.sampling, { maxTokens: 9, temperature: 0.5 });
    assert.equal(p.store, true);
    assert.equal(p.lastUserText, 'hi');
  });

  it('maps items: parts, function calls and their outputs', () => {
    const p = parseResponseRequest({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'a' },
            { type: 'input_text', text: 'b' },
          ],
        },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: '42' },
      ],
    });
    assert.deepEqual(p.completion.messages, [
      { role: 'user', content: 'ab' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      { role: 'tool', content: '42', tool_call_id: 'c1' },
    ]);
  });

  it('refuses bad input naming the field', () => {
    bad({ input: 'x', store: false, background: true }, 'store');
    bad({ input: '' }, 'input');
    bad({ input: [] }, 'input');
    bad({ input: 42 }, 'input');
    bad({}, 'input');
    bad(
      { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] },
      'input.0.content',
    );
    bad({ input: [{ role: 'system', content: 'only system' }] }, 'input');
    bad({ input: 'a \u0000 b' }, 'input');
    bad({ input: 'x', tools: [{ type: 'web_search' }] }, 'tools.0.type');
    bad({ input: 'x', store: false, previous_response_id: 'resp_1' }, 'previous_response_id');
    bad([], undefined);
  });
});
