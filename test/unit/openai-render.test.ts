/**
 * Unit tests of the pure parts of the OpenAI-compatible door: the SSE rendering of an
 * event log (api/openai/render.ts) across LLM retries and resumes, and the trimming of
 * a stateless conversation (prompt/conversation-trim.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ChunkRenderer,
  isAfter,
  parseSseId,
  type CompletionMeta,
  type SseEvent,
} from '../../api/openai/render';
import type { PromptMessage } from '../../contracts/common';
import type { RequestEvent } from '../../contracts/protocol';
import { trimConversation } from '../../prompt/conversation-trim';
import { ContextTooLargeError } from '../../prompt/pruner';
import { REPLY_PRIMING_TOKENS } from '../../prompt/tokens';

const meta: CompletionMeta = { id: 'chatcmpl-x', created: 1, model: 'm', includeUsage: true };

function render(log: RequestEvent[], r = new ChunkRenderer(meta)): SseEvent[] {
  return log.flatMap((e, i) => r.push(e, i + 1));
}

const text = (events: SseEvent[]) =>
  events
    .filter((e) => typeof e.data === 'object' && e.data !== null && 'choices' in e.data)
    .map(
      (e) =>
        (e.data as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ??
        '',
    )
    .join('');

const usage = {
  type: 'usage',
  promptTokens: 5,
  completionTokens: 3,
  totalTokens: 8,
  quota: { dailyUsed: 8, dailyLimit: 100 },
} as const;

describe('ChunkRenderer', () => {
  it('renders role, content, finish, usage and [DONE], each with its own id', () => {
    const out = render([
      { type: 'status', state: 'pruning' },
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo' },
      usage,
      { type: 'done', messageId: '', content: 'Hello' },
    ]);
    assert.deepEqual(
      out.map((e) => e.id),
      [
        '0000000000000002',
        '0000000000000003',
        '0000000000000004',
        '0000000000000006',
        '0000000000000006.1',
        '0000000000000006.2',
      ],
    );
    assert.equal(text(out), 'Hello');
    assert.equal(out.at(-1)?.data, '[DONE]');
    assert.deepEqual((out[4]?.data as { choices: unknown[]; usage: unknown }).choices, []);
    assert.deepEqual((out[4]?.data as { usage: unknown }).usage, {
      prompt_tokens: 5,
      completion_tokens: 3,
      total_tokens: 8,
    });
    assert.equal(
      (out[3]?.data as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason,
      'stop',
    );
  });

  it('a retry that repeats what was sent continues seamlessly (only the new text goes out)', () => {
    const out = render([
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hello ' },
      { type: 'delta', content: 'wor' },
      { type: 'restart', reason: 'llm_retry' },
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hel' },
      { type: 'delta', content: 'lo w' },
      { type: 'delta', content: 'orld' },
      { type: 'done', messageId: '', content: 'Hello world' },
    ]);
    assert.equal(text(out), 'Hello world');
    assert.ok(!out.some((e) => JSON.stringify(e.data).includes('"error"')));
    assert.equal(
      out.filter((e) => JSON.stringify(e.data).includes('"role"')).length,
      1,
      'one role chunk',
    );
  });

  it('a retry that says something else ends the stream with llm_unavailable; the final rendering has the whole reply', () => {
    const log: RequestEvent[] = [
      { type: 'status', state: 'calling_llm' },
      { type: 'delta', content: 'Hello there' },
      { type: 'restart', reason: 'llm_retry' },
      { type: 'delta', content: 'Goodbye' },
      usage,
      { type: 'done', messageId: '', content: 'Goodbye' },
    ];
    const r = new ChunkRenderer(meta);
    const out = render(log, r);
    assert.equal(text(out), 'Hello there', 'never any text of the other attempt');
    const last = out.at(-1)?.data as { error: { code: string; type: string; param: null } };
    assert.equal(last.error.code, 'llm_unavailable');
    assert.equal(r.broken, true);
    assert.ok(!out.some((e) => e.data === '[DONE]'));

    const final = new ChunkRenderer(meta).finalRendering(
      log[5] as Extract<RequestEvent, { type: 'done' }>,
      usage,
    );
    assert.equal(text(final), 'Goodbye');
    assert.deepEqual(
      final.map((e) => e.id),
      ['f.0', 'f.1', 'f.2', 'f.3'],
    );
    assert.equal(final.at(-1)?.data, '[DONE]');
  });

  it('a reply shorter than what was sent is refused too', () => {
    const out = render([
      { type: 'delta', content: 'Hello world' },
      { type: 'restart', reason: 'llm_retry' },
      { type: 'delta', content: 'Hello' },
      { type: 'done', messageId: '', content: 'Hello' },
    ]);
    assert.equal((out.at(-1)?.data as { error: { code: string } }).error.code, 'llm_unavailable');
  });

  it('renders client tool calls and finish_reason tool_calls', () => {
    const out = render([
      { type: 'status', state: 'calling_llm' },
      {
        type: 'done',
        messageId: '',
        content: '',
        toolCalls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        finishReason: 'tool_calls',
      },
    ]);
    const calls = (out[1]?.data as { choices: Array<{ delta: { tool_calls: unknown[] } }> })
      .choices[0]?.delta.tool_calls;
    assert.deepEqual(calls, [
      { index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
    ]);
    assert.equal(
      (out[2]?.data as { choices: Array<{ finish_reason: string }> }).choices[0]?.finish_reason,
      'tool_calls',
    );
  });

  it('an error event renders as an OpenAI error object', () => {
    const out = render([{ type: 'error', code: 'cancelled', message: 'stopped' }]);
    assert.deepEqual(out[0]?.data, {
      error: { code: 'cancelled', message: 'stopped', type: 'invalid_request_error', param: null },
    });
  });

  it('Last-Event-ID positions: plain ids, parts, final ids, and foreign ones', () => {
    assert.deepEqual(parseSseId('0000000006'), { seq: 6, part: 0, final: false });
    assert.deepEqual(parseSseId('0000000006.2'), { seq: 6, part: 2, final: false });
    assert.deepEqual(parseSseId('f.1'), { seq: 0, part: 1, final: true });
    assert.equal(parseSseId('abc'), undefined);
    const after = parseSseId('0000000006.1');
    assert.equal(isAfter('0000000006.1', after), false);
    assert.equal(isAfter('0000000006.2', after), true);
    assert.equal(isAfter('0000000005', after), false);
    assert.equal(isAfter('0000000007', after), true);
  });
});

describe('trimConversation', () => {
  const m = (
    role: PromptMessage['role'],
    content: string,
    extra: Partial<PromptMessage> = {},
  ): PromptMessage => ({ role, content, ...extra });
  const ten = () => 10;

  it('drops the oldest first, keeps system messages in place', () => {
    const msgs = [
      m('system', 's'),
      m('user', 'u1'),
      m('assistant', 'a1'),
      m('user', 'u2'),
      m('system', 's2'),
      m('user', 'u3'),
    ];
    const budget = REPLY_PRIMING_TOKENS + 10 * 4;
    const out = trimConversation(msgs, ten, budget);
    assert.deepEqual(
      out.messages.map((x) => x.content),
      ['s', 'u2', 's2', 'u3'],
    );
    assert.equal(out.promptTokens, budget);
    assert.equal(out.dropped, 2);
  });

  it('keeps an assistant tool call and its results together; never starts on an orphaned result', () => {
    const call = { id: 'c', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const msgs = [
      m('user', 'u1'),
      m('assistant', '', { tool_calls: [call] }),
      m('tool', 'r1', { tool_call_id: 'c' }),
      m('tool', 'r2', { tool_call_id: 'c' }),
      m('user', 'u2'),
    ];
    // Room for 3 messages: the 3-message group does not fit beside u2, so it goes whole.
    let out = trimConversation(msgs, ten, REPLY_PRIMING_TOKENS + 30);
    assert.deepEqual(
      out.messages.map((x) => x.content),
      ['u2'],
    );
    // Room for 4: the whole group stays.
    out = trimConversation(msgs, ten, REPLY_PRIMING_TOKENS + 40);
    assert.deepEqual(
      out.messages.map((x) => x.content),
      ['', 'r1', 'r2', 'u2'],
    );
    // A conversation that starts with a tool result (its call already cut by the client).
    out = trimConversation([m('tool', 'orphan', { tool_call_id: 'z' }), m('user', 'u')], ten, 1000);
    assert.deepEqual(
      out.messages.map((x) => x.content),
      ['u'],
    );
  });

  it('the last message (with its tool group) always stays; too big alone is ContextTooLarge', () => {
    assert.throws(
      () => trimConversation([m('user', 'u1'), m('user', 'big')], (i) => (i === 1 ? 500 : 10), 100),
      ContextTooLargeError,
    );
    assert.throws(
      () => trimConversation([m('system', 's'), m('user', 'u')], (i) => (i === 0 ? 95 : 10), 100),
      ContextTooLargeError,
    );
  });
});
