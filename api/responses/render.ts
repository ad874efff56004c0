/**
 * Renders a chat request's event log (store/event-log.ts) as an OpenAI Responses stream
 * and as the `response` object (docs/API.md "Responses API").
 *
 * The rendering is a pure function of the log: every API process renders the same events
 * in the same order, so an event's `sequence_number` is simply its index in the
 * rendering, and a client that re-attaches with `starting_after=N` gets exactly the
 * events after the N-th, each once, none skipped. Nothing about a stream is kept
 * anywhere but in the request's log.
 *
 * The first event, `response.created`, comes before any log event (so a response always
 * has event 0); the first log event of any kind brings `response.in_progress`. Text
 * opens the message item, tool calls for the client come as `function_call` items at
 * the end, and one terminal event closes the stream: `response.completed`,
 * `response.incomplete` (the reply hit `max_output_tokens`), `response.failed` or
 * `response.cancelled`.
 *
 * LLM retries follow the diverging-retry rule of api/openai/reply-text.ts: text repeated
 * by a new attempt is not sent again; an attempt that says something else ends the
 * stream with an `error` event (`llm_unavailable`), as Chat Completions does. The
 * `response` object ({@link ResponseRenderer.object}) always shows what the reply
 * says now, so a client whose stream broke off reads the whole reply with `GET`.
 */
import type { LlmToolCall } from '../../contracts/common';
import type { RequestEvent } from '../../contracts/protocol';
import type { ErrorCode } from '../../contracts/errors';
import { ReplyText } from '../openai/reply-text';
import type { Usage } from '../openai/render';

export type ResponseStatus =
  'queued' | 'in_progress' | 'completed' | 'failed' | 'cancelled' | 'incomplete';

/** Final statuses: a response in one of them changes no more. */
export const FINAL_STATUSES: ReadonlySet<ResponseStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
  'incomplete',
]);

/** What the `response` object repeats from its creation (the stored row, api/responses/store). */
export interface ResponseMeta {
  /** `resp_<32 hex>`. */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  model: string;
  background: boolean;
  store: boolean;
  previousResponseId: string | null;
  metadata: Record<string, string>;
}

/** One Responses stream event. */
export interface ResponseStreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

export interface ResponseError {
  code: ErrorCode;
  message: string;
}

/** The id of the message item of a response (`msg_` + the response's hex). */
const messageItemId = (responseId: string) => `msg_${responseId.slice('resp_'.length)}`;
/** The id of its i-th function call item. */
const callItemId = (responseId: string, i: number) => `fc_${responseId.slice('resp_'.length)}_${i}`;

/** OpenAI's `usage` object of a response. */
export function responseUsage(u: Usage) {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.totalTokens,
  };
}

/** Renders one request's log, event by event; see the module doc. */
export class ResponseRenderer {
  private readonly text = new ReplyText();
  private seq = 0;
  private begun = false;
  private inProgress = false;
  /** The message item was announced in the stream (`output_item.added`). */
  private messageOpen = false;
  /** `done`'s content once the reply is final. */
  private finalText: string | undefined;
  private toolCalls: LlmToolCall[] = [];
  private usage: Usage | undefined;
  private error: ResponseError | null = null;
  status: ResponseStatus;
  /** True once the stream has its last event (terminal, or broken off by a retry). */
  ended = false;
  /** True when a retry said something else than what the stream had sent. */
  broken = false;

  constructor(private readonly meta: ResponseMeta) {
    this.status = meta.background ? 'queued' : 'in_progress';
  }

  /** How many events the rendering holds so far (the next one's `sequence_number`). */
  get count(): number {
    return this.seq;
  }

  /** True once the request has its terminal event (the object is final). */
  get final(): boolean {
    return FINAL_STATUSES.has(this.status);
  }

  private event(type: string, fields: Record<string, unknown>): ResponseStreamEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }

  /** The events before any log event: `response.created`. Call once, first. */
  begin(): ResponseStreamEvent[] {
    if (this.begun) return [];
    this.begun = true;
    return [this.event('response.created', { response: this.object() })];
  }

  /** The stream events one log event renders to (the object's state follows every event). */
  push(event: RequestEvent): ResponseStreamEvent[] {
    const out = this.begin();
    if (this.final) return out;
    const streaming = !this.ended;
    if (!this.inProgress) {
      this.inProgress = true;
      this.status = 'in_progress';
      if (streaming) out.push(this.event('response.in_progress', { response: this.object() }));
    }
    switch (event.type) {
      case 'restart':
        this.text.restart();
        break;
      case 'delta': {
        const piece = this.text.extend(event.content);
        if (!streaming) break;
        if (piece === undefined) return [...out, ...this.breakOff()];
        if (piece) out.push(...this.openMessage(), this.textDelta(piece));
        break;
      }
      case 'usage':
        this.usage = event;
        break;
      case 'done':
        return [...out, ...this.complete(event, streaming)];
      case 'error':
        this.error = { code: event.code, message: event.message };
        this.status = event.code === 'cancelled' ? 'cancelled' : 'failed';
        if (streaming) out.push(this.terminal());
        break;
      default:
        break;
    }
    return out;
  }

  /** A `done`: the rest of the text, the items closed, the client's tool calls, the end. */
  private complete(
    done: Extract<RequestEvent, { type: 'done' }>,
    streaming: boolean,
  ): ResponseStreamEvent[] {
    const rest = this.text.finish(done.content);
    this.finalText = done.content;
    this.toolCalls = done.toolCalls ?? [];
    this.status = done.finishReason === 'length' ? 'incomplete' : 'completed';
    if (!streaming) return [];
    if (rest === undefined) return this.breakOff();
    const out: ResponseStreamEvent[] = [];
    if (rest) out.push(...this.openMessage(), this.textDelta(rest));
    if (this.messageOpen) {
      const id = messageItemId(this.meta.id);
      const part = { type: 'output_text', text: done.content, annotations: [] };
      out.push(
        this.event('response.output_text.done', {
          item_id: id,
          output_index: 0,
          content_index: 0,
          text: done.content,
          logprobs: [],
        }),
        this.event('response.content_part.done', {
          item_id: id,
          output_index: 0,
          content_index: 0,
          part,
        }),
        this.event('response.output_item.done', { output_index: 0, item: this.messageItem() }),
      );
    }
    const first = this.messageOpen ? 1 : 0;
    for (const [i, call] of this.toolCalls.entries()) {
      const item = this.callItem(call, i);
      const at = { item_id: item.id, output_index: first + i };
      out.push(
        this.event('response.output_item.added', {
          output_index: first + i,
          item: { ...item, arguments: '', status: 'in_progress' },
        }),
        this.event('response.function_call_arguments.delta', {
          ...at,
          delta: call.function.arguments,
        }),
        this.event('response.function_call_arguments.done', {
          ...at,
          arguments: call.function.arguments,
        }),
        this.event('response.output_item.done', { output_index: first + i, item }),
      );
    }
    out.push(this.terminal());
    return out;
  }

  /** The events that announce the message item, the first time there is text. */
  private openMessage(): ResponseStreamEvent[] {
    if (this.messageOpen) return [];
    this.messageOpen = true;
    const id = messageItemId(this.meta.id);
    return [
      this.event('response.output_item.added', {
        output_index: 0,
        item: { type: 'message', id, status: 'in_progress', role: 'assistant', content: [] },
      }),
      this.event('response.content_part.added', {
        item_id: id,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      }),
    ];
  }

  private textDelta(delta: string): ResponseStreamEvent {
    const at = { item_id: messageItemId(this.meta.id), output_index: 0, content_index: 0 };
    return this.event('response.output_text.delta', { ...at, delta, logprobs: [] });
  }

  private terminal(): ResponseStreamEvent {
    this.ended = true;
    return this.event(`response.${this.status}`, { response: this.object() });
  }

  private breakOff(): ResponseStreamEvent[] {
    this.ended = true;
    this.broken = true;
    const message =
      'The language model failed mid-reply and its retry answered differently; ' +
      'retrieve the response (GET /v1/responses/:id) for the complete reply';
    return [this.event('error', { code: 'llm_unavailable', message, param: null })];
  }

  private messageItem() {
    const text = this.finalText ?? this.text.current;
    const status =
      this.status === 'completed' ? 'completed' : this.final ? 'incomplete' : 'in_progress';
    return {
      type: 'message',
      id: messageItemId(this.meta.id),
      status,
      role: 'assistant',
      content: [{ type: 'output_text', text, annotations: [] }],
    };
  }

  private callItem(call: LlmToolCall, i: number) {
    return {
      type: 'function_call',
      id: callItemId(this.meta.id, i),
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
      status: 'completed',
    };
  }

  /** The `response` object as the log stands now. */
  object(): Record<string, unknown> {
    const text = this.finalText ?? this.text.current;
    const output: unknown[] = [];
    if (this.messageOpen || text !== '') output.push(this.messageItem());
    output.push(...this.toolCalls.map((c, i) => this.callItem(c, i)));
    const m = this.meta;
    return {
      id: m.id,
      object: 'response',
      created_at: m.createdAt,
      status: this.status,
      background: m.background,
      error: this.error,
      incomplete_details: this.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      instructions: null,
      metadata: m.metadata,
      model: m.model,
      output,
      parallel_tool_calls: true,
      previous_response_id: m.previousResponseId,
      store: m.store,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      truncation: 'disabled',
      usage: this.usage && this.final ? responseUsage(this.usage) : null,
    };
  }
}
