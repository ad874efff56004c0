/**
 * The chat workflow's contract (workflows/chat.ts): its id, signal and query, the
 * settings it gets from config, its input and result.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ErrorCode } from './errors';
import type { LlmToolCall, Plan, PromptMessage, TaskQueues, TokenUsage } from './common';

/**
 * The chat workflow id: derived from (user, requestId) so the same requestId sent
 * twice maps to the same workflow and never runs twice, while two users can never
 * collide on (or probe) each other's request ids.
 */
export function chatWorkflowId(userId: string, requestId: string): string {
  return `chat-${userId}-${requestId}`;
}

/** Client asks to stop the request (WebSocket `cancel`). */
export const cancelSignal = defineSignal('cancel');

/** Where a chat request is, for operators and the API. */
export const chatStateQuery = defineQuery<ChatState>('chatState');

export type ChatPhase = 'preparing' | 'calling_llm' | 'finishing' | 'completed' | 'failed';

export interface ChatState {
  phase: ChatPhase;
  errorCode?: ErrorCode;
}

/** Settings the workflow needs from config; workflows never read process.env. */
export interface ChatSettings {
  maxHistoryMessages: number;
  maxCompletionTokens: number;
  contextSafetyMargin: number;
  /** Stored messages past which older turns are summarised (asynchronously). */
  summaryThreshold: number;
  /** Old messages not yet summarised needed before the next run (batching). */
  summaryMinNewMessages: number;
  summaryModel: string;
  summaryMaxTokens: number;
  /** Per-attempt limit of one LLM call, and how many attempts (Temporal retries). */
  llmAttemptTimeoutMs: number;
  llmMaxAttempts: number;
  /**
   * Silence after which an LLM attempt's worker counts as gone and the call is retried
   * elsewhere. Optional: absent in older histories (then 10 s).
   */
  llmHeartbeatTimeoutMs?: number;
  /**
   * How long the reply step retries writing the reply and the ledger row before the
   * record is handed to a billing workflow. Optional: absent in older histories.
   */
  replyStoreBudgetMs?: number;
}

export interface ChatWorkflowInput {
  requestId: string;
  userId: string;
  /** The session; `''` for a stateless completion (nothing stored, billed with no session). */
  sessionId: string;
  content: string;
  model: string;
  plan: Plan;
  taskQueues: TaskQueues;
  settings: ChatSettings;
  /** How the request came in (the `method` label of `chat_requests_total`); absent = `ws`. */
  method?: ChatMethod;
  /** Present for an OpenAI-compatible completion (`POST /v1/chat/completions`). */
  completion?: CompletionRequest;
}

/** The doors a chat request comes in by (docs/ARCHITECTURE.md "Doors into the system"). */
export type ChatMethod = 'ws' | 'openai' | 'responses';

/** Sampling parameters of an OpenAI-compatible request, passed to the LLM as given. */
export interface SamplingParams {
  /** `max_tokens` / `max_completion_tokens`, capped by the server's completion budget. */
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
}

/**
 * What an OpenAI-compatible completion adds to a chat request (docs/API.md
 * "OpenAI-compatible API"). JSON-safe: it travels in the workflow input.
 */
export interface CompletionRequest {
  /**
   * The client's messages: the whole conversation when `stateless`, else the new turn
   * of the session (its stored history and summary come first).
   */
  messages: PromptMessage[];
  /** True without `X-Session-Id`: nothing is stored in a session. */
  stateless: boolean;
  /**
   * The client's tools (OpenAI `tools` objects), offered to the LLM as given; the LLM's
   * calls of them go back to the client (`finish_reason: "tool_calls"`), never run here.
   */
  tools?: unknown[];
  /** OpenAI `tool_choice`, passed through with `tools`. */
  toolChoice?: unknown;
  sampling: SamplingParams;
}

export type ChatWorkflowResult =
  | {
      status: 'completed';
      messageId: string;
      usage: TokenUsage;
      /**
       * What `done` carried (absent in results of workflows from before v1.1): the API
       * writes `done` again from it when Redis no longer has the request's events
       * (api/request-end.ts).
       */
      content?: string;
      toolCalls?: LlmToolCall[];
      finishReason?: string;
    }
  | { status: 'error'; code: ErrorCode; message: string };
