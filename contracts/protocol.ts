/**
 * The WebSocket protocol's server-to-client frames (docs/API.md, "WebSocket /v1/ws").
 *
 * A request's events are written by activities to the request's Redis Stream as
 * {@link RequestEvent}s; the API relay adds `requestId` and `eventId` when it sends them.
 * Pure types and constants: importable from workflows.
 */
import type { LlmToolCall } from './common';
import type { ErrorCode } from './errors';

export type StatusState =
  | 'pruning'
  | 'checking_quota'
  | 'calling_llm'
  | 'running_tool'
  | 'awaiting_approval'
  | 'summarizing';

export interface QuotaSnapshot {
  dailyUsed: number;
  dailyLimit: number;
}

export type RequestEvent =
  | { type: 'status'; state: StatusState; detail?: string }
  | { type: 'delta'; content: string }
  | { type: 'restart'; reason: string }
  | {
      type: 'tool_call';
      toolCallId: string;
      name: string;
      arguments: unknown;
      taskId?: string;
    }
  | {
      /** A tool call waits for the user's decision (docs/API.md "Approving tool calls"). */
      type: 'approval_required';
      toolCallId: string;
      name: string;
      arguments: unknown;
      expiresAt: string;
    }
  | {
      type: 'tool_progress';
      taskId: string;
      progress: number;
      message: string;
      /** When the tool emitted this progress (ISO-8601): lets clients see relay delay. */
      emittedAt?: string;
    }
  | {
      type: 'tool_result';
      toolCallId: string;
      taskId?: string;
      ok: boolean;
      result?: unknown;
      error?: string;
      /** More about `error` (a denial's reason, what `interrupted` means). */
      detail?: string;
    }
  | {
      type: 'usage';
      promptTokens: number;
      completionTokens: number;
      totalTokens: number;
      quota: QuotaSnapshot;
    }
  | {
      type: 'done';
      /** The stored reply's id; `''` for a stateless completion (nothing stored). */
      messageId: string;
      content: string;
      /** A completion's tool calls for the client (client tools, OpenAI-compatible API). */
      toolCalls?: LlmToolCall[];
      /** The LLM's finish reason (OpenAI-compatible API): `stop`, `length`, `tool_calls`... */
      finishReason?: string;
    }
  | { type: 'error'; code: ErrorCode; message: string };

/** Event types that end a request: exactly one of them is ever written per request. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<RequestEvent['type']> = new Set(['done', 'error']);

/** A frame as the client receives it. */
export type ServerFrame =
  | (RequestEvent & { requestId: string; eventId: string })
  | { type: 'accepted'; requestId: string; sessionId: string }
  | {
      type: 'error';
      requestId?: string;
      code: ErrorCode;
      message: string;
      /** With `rate_limited`: whole seconds to wait before trying again. */
      retryAfter?: number;
    }
  | { type: 'pong' };
