/**
 * Renders a chat request's event log (store/event-log.ts) as OpenAI Chat Completions:
 * `chat.completion.chunk` Server-Sent Events, or one `chat.completion` object.
 *
 * The SSE rendering is a pure function of the log, so any API process renders the same
 * events with the same ids, and a client that reconnects with `Last-Event-ID` gets the
 * rest of the very stream it was reading: each SSE event once, none skipped. An SSE id
 * is the eventId of the log event it renders (`0000000042`), with `.k` for the k-th
 * further SSE event rendered from the same log event (`0000000042.1`).
 *
 * LLM retries: after a `restart` (a new attempt), the attempt's text is compared with
 * what the client already has. While it repeats that text, nothing is sent; once it
 * goes further, only the new part is. If it says something else, the stream cannot be
 * made whole without taking back text: it ends with an `llm_unavailable` error event.
 * Such a broken rendering is detected from the log alone, so a later request with the
 * same key (without `Last-Event-ID`) gets the "final" rendering instead: the finished
 * reply in one piece, with ids `f.<k>`.
 */
import { NO_USAGE, type LlmToolCall, type TokenUsage } from '../../contracts/common';

/** Token counts as the `usage` event carries them. */
export type Usage = Pick<TokenUsage, 'promptTokens' | 'completionTokens' | 'totalTokens'>;
import type { RequestEvent } from '../../contracts/protocol';
import { ERRORS, errorSpecForCode, type ErrorSpec } from '../../contracts/errors';
import { toEventId } from '../../store/event-log';
import { AppError, errorBody } from '../errors';
import { ReplyText } from './reply-text';

/** What every chunk of one completion repeats. */
export interface CompletionMeta {
  /** `chatcmpl-<requestId>`. */
  id: string;
  /** Unix seconds of the request's first start. */
  created: number;
  model: string;
  includeUsage: boolean;
}

/** One SSE event: its id and its `data` (an object, or the `[DONE]` sentinel). */
export interface SseEvent {
  id: string;
  data: unknown;
}

/** A position in a rendering: the log seq and the index within it. */
export interface SsePosition {
  seq: number;
  part: number;
  final: boolean;
}

/** Parses a `Last-Event-ID` we issued; undefined when it is not one of ours. */
export function parseSseId(id: string): SsePosition | undefined {
  const final = /^f\.(\d{1,4})$/.exec(id);
  if (final) return { seq: 0, part: Number(final[1]), final: true };
  const m = /^(\d{1,16})(?:\.(\d{1,4}))?$/.exec(id);
  if (!m) return undefined;
  return { seq: Number(m[1]), part: m[2] === undefined ? 0 : Number(m[2]), final: false };
}

const sseId = (seq: number, part: number) =>
  part === 0 ? toEventId(seq) : `${toEventId(seq)}.${part}`;

/** OpenAI's `usage` object. */
export function openAiUsage(u: Usage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
  };
}

/** The error object of an SSE `error` event (OpenAI's shape). */
export function sseError(spec: ErrorSpec, message: string): unknown {
  return errorBody(new AppError(spec, message));
}

function toolCallDeltas(calls: readonly LlmToolCall[]) {
  return calls.map((c, index) => ({
    index,
    id: c.id,
    type: 'function' as const,
    function: { name: c.function.name, arguments: c.function.arguments },
  }));
}

/** Renders one request's log, event by event. */
export class ChunkRenderer {
  /** The text the client holds, under the diverging-retry rule. */
  private readonly text = new ReplyText();
  private roleSent = false;
  private usage: Usage | undefined;
  /** True once the rendering has ended (done, error, or broken by a retry). */
  ended = false;
  /** True when a retry said something else than what the client had (see module doc). */
  broken = false;

  constructor(private readonly meta: CompletionMeta) {}

  /** The fields every chunk of this completion starts with. */
  private header() {
    return {
      id: this.meta.id,
      object: 'chat.completion.chunk',
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: null,
    };
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null = null): unknown {
    return {
      ...this.header(),
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(this.meta.includeUsage ? { usage: null } : {}),
    };
  }

  private usageChunk(): unknown {
    const u = this.usage ?? NO_USAGE;
    return {
      ...this.header(),
      choices: [],
      usage: openAiUsage(u),
    };
  }

  /** The SSE events one log event renders to (none for most status events). */
  push(event: RequestEvent, seq: number): SseEvent[] {
    if (this.ended) return [];
    const data: unknown[] = [];
    switch (event.type) {
      case 'status':
        if (event.state === 'calling_llm' && !this.roleSent) {
          this.roleSent = true;
          data.push(this.chunk({ role: 'assistant', content: '' }));
        }
        break;
      case 'restart':
        this.text.restart();
        break;
      case 'delta': {
        const piece = this.text.extend(event.content);
        if (piece === undefined) return this.breakOff(seq);
        if (piece) data.push(this.chunk({ content: piece }));
        break;
      }
      case 'usage':
        this.usage = event;
        break;
      case 'done': {
        // The client must hold exactly the final text: send what it lacks, or give up.
        const rest = this.text.finish(event.content);
        if (rest === undefined) return this.breakOff(seq);
        if (rest) data.push(this.chunk({ content: rest }));
        data.push(...this.ending(event));
        this.ended = true;
        break;
      }
      case 'error':
        data.push(sseError(errorSpecForCode(event.code), event.message));
        this.ended = true;
        break;
      default:
        break;
    }
    return data.map((d, part) => ({ id: sseId(seq, part), data: d }));
  }

  /** The chunks that close a finished completion: tool calls, finish, usage, [DONE]. */
  private ending(done: Extract<RequestEvent, { type: 'done' }>): unknown[] {
    const out: unknown[] = [];
    if (done.toolCalls?.length)
      out.push(this.chunk({ tool_calls: toolCallDeltas(done.toolCalls) }));
    out.push(this.chunk({}, finishReasonOf(done)));
    if (this.meta.includeUsage) out.push(this.usageChunk());
    out.push('[DONE]');
    return out;
  }

  private breakOff(seq: number): SseEvent[] {
    this.ended = true;
    this.broken = true;
    const message =
      'The language model failed mid-reply and its retry answered differently; ' +
      'send the request again with the same Idempotency-Key (without Last-Event-ID) for the complete reply';
    return [{ id: sseId(seq, 0), data: sseError(ERRORS.LlmUnavailable, message) }];
  }

  /** The "final" rendering of a finished request: the whole reply at once (ids `f.<k>`). */
  finalRendering(
    done: Extract<RequestEvent, { type: 'done' }>,
    usage: Usage | undefined,
  ): SseEvent[] {
    this.usage = usage;
    const data = [this.chunk({ role: 'assistant', content: done.content }), ...this.ending(done)];
    return data.map((d, k) => ({ id: `f.${k}`, data: d }));
  }
}

/** OpenAI's finish reason of a finished request. */
export function finishReasonOf(done: Extract<RequestEvent, { type: 'done' }>): string {
  if (done.toolCalls?.length) return 'tool_calls';
  return done.finishReason ?? 'stop';
}

/** The non-streamed answer: one `chat.completion` object. */
export function completionObject(
  meta: CompletionMeta,
  done: Extract<RequestEvent, { type: 'done' }>,
  usage: Usage | undefined,
): unknown {
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: done.content,
    refusal: null,
  };
  if (done.toolCalls?.length) {
    message.content = done.content || null;
    message.tool_calls = done.toolCalls.map((c) => ({
      id: c.id,
      type: 'function',
      function: c.function,
    }));
  }
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReasonOf(done) }],
    usage: openAiUsage(usage ?? NO_USAGE),
  };
}

/** True when an SSE event at `pos` comes after `after` in its rendering. */
export function isAfter(id: string, after: SsePosition | undefined): boolean {
  if (!after) return true;
  const pos = parseSseId(id);
  if (!pos) return true;
  if (pos.final !== after.final) return true;
  return pos.seq > after.seq || (pos.seq === after.seq && pos.part > after.part);
}
