/**
 * Contracts shared by the API, the workers and the workflows: task queues, workflow
 * ids, signals and queries, and the JSON-safe inputs and outputs of workflows.
 * Nothing else names a signal, query or task queue by string.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { ErrorCode } from './errors';

/** Task queues, one per kind of work so each scales and fails on its own. */
export interface TaskQueues {
  chat: string;
  tools: string;
  billing: string;
  summaries: string;
}

export const DEFAULT_TASK_QUEUES: Readonly<TaskQueues> = Object.freeze({
  chat: 'chat',
  tools: 'tools',
  billing: 'billing',
  summaries: 'summaries',
});

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

export type Plan = 'free' | 'pro';

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
export type ChatMethod = 'ws' | 'openai';

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

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when counted locally with tiktoken because the provider sent no usage. */
  estimated: boolean;
}

/** No tokens used: the start of a sum of usages. */
export const NO_USAGE: Readonly<TokenUsage> = Object.freeze({
  promptTokens: 0,
  completionTokens: 0,
  totalTokens: 0,
  estimated: false,
});

/**
 * Adds two usages; the sum is estimated when either part was. Pure, so workflows (the
 * chat request's LLM calls) and activities (a tool's LLM calls) add usage the same way.
 */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    estimated: a.estimated || b.estimated,
  };
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

/**
 * The billing workflow id of a request. Like {@link chatWorkflowId} it includes the
 * user: request ids are client-chosen, and two users sending the same one must never
 * share (or suppress) each other's billing record.
 */
export function billingWorkflowId(userId: string, requestId: string): string {
  return `billing-${userId}-${requestId}`;
}

/** One request's token usage, as billed (the billing workflow's input; JSON-safe). */
export interface UsageRecord {
  userId: string;
  requestId: string;
  sessionId: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  estimated: boolean;
  /** When the usage was settled (ISO-8601 UTC): decides its quota day and month. */
  createdAt: string;
}

export interface BillingResult {
  /** False when the row already existed (a retry or a re-run): nothing was added. */
  inserted: boolean;
}

/** One summarisation per session at a time: the workflow id is the session's. */
export function summaryWorkflowId(sessionId: string): string {
  return `summary-${sessionId}`;
}

export interface SummarizeWorkflowInput {
  sessionId: string;
  model: string;
  /** Messages kept verbatim in prompts (the window): they are not summarised. */
  keepRecent: number;
  /**
   * Fold only messages with a smaller id: the first message of the window of the prompt
   * that asked for this run. It makes the watermark a function of the conversation, not
   * of when the run reads it (the triggering request's reply may or may not be stored
   * yet). Absent (runs started before it existed): the `keepRecent` newest are kept.
   */
  foldBefore?: string;
  /**
   * Skip the run when fewer messages than this are left to fold: the request that asked
   * may have judged against a watermark an earlier run was just moving, and summaries
   * run in batches (`SUMMARY_MIN_NEW_MESSAGES`). Absent: any number is folded.
   */
  minNewMessages?: number;
  maxSummaryTokens: number;
}

export type SummarizeWorkflowResult =
  | { status: 'summarized'; watermark: string; foldedMessages: number }
  | { status: 'skipped'; reason: 'nothing_new' | 'breaker_open' };

/** A message of an LLM prompt, in the OpenAI chat format (JSON-safe). */
export interface PromptMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: LlmToolCall[];
  tool_call_id?: string;
}

export interface LlmToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

// ---------------------------------------------------------------------------------
// Tools (docs/SPEC.md "P2"): fast tools run inside the chat request; long-running ones run
// as their own `toolWorkflow` on the tools task queue, a child of the chat workflow.

/** Every tool the LLM is offered. The registry (tools/registry.ts) defines each one. */
export const TOOL_NAMES = ['calculator', 'summarize_document'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** A tool call's outcome as the client (`tool_result`) and the LLM (`tool` message) see it. */
export interface ToolOutcome {
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** The `tool` message content the LLM reads: the result as JSON, or `{"error": ...}`. */
export function toolMessageContent(outcome: ToolOutcome): string {
  return JSON.stringify(outcome.ok ? (outcome.result ?? null) : { error: outcome.error });
}

/** Most LLM rounds that may end in tool calls per request; the next round gets no tools. */
export const MAX_TOOL_ROUNDS = 5;

/**
 * The id of a long-running tool's workflow, which is also the client's `taskId`.
 * Derived from the user, the request and the LLM's tool call id, so a replayed or
 * retried chat workflow finds the same task instead of starting a second one, and two
 * users sending the same (client-chosen) requestId never share a task.
 */
export function toolWorkflowId(userId: string, requestId: string, toolCallId: string): string {
  return `tool-${userId}-${requestId}-${toolCallId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}`;
}

/**
 * The task id chat workflows started before task ids held the user used
 * (`tool-<requestId>-<toolCallId>`); kept so their replays start the same child.
 */
export function legacyToolWorkflowId(requestId: string, toolCallId: string): string {
  return `tool-${requestId}-${toolCallId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64)}`;
}

/** Search attributes of tool workflows (Temporal UI: `ToolName = 'summarize_document'`). */
export const TOOL_NAME_SEARCH_ATTRIBUTE = defineSearchAttributeKey('ToolName', SearchAttributeType.KEYWORD);
export const SESSION_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey('SessionId', SearchAttributeType.KEYWORD);

export type ToolStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/** A task as `GET /v1/tasks/:taskId` answers it (docs/API.md). */
export interface ToolState {
  taskId: string;
  tool: string;
  status: ToolStatus;
  /** 0-100. */
  progress: number;
  message: string;
  result?: unknown;
  error?: string;
}

/** Where a long-running tool is: answered by the tool workflow, running or closed. */
export const toolStateQuery = defineQuery<ToolState>('toolState');

/** The memo of a tool workflow: who owns the task (ids only, no personal data). */
export interface ToolTaskMemo {
  userId: string;
  requestId: string;
  toolCallId: string;
}

/** What a tool's heartbeat carries; `checkpoint` lets a retried attempt resume. */
export interface ToolHeartbeat<C = unknown> {
  progress: number;
  message: string;
  checkpoint: C;
}

export interface ToolWorkflowInput {
  taskId: string;
  tool: ToolName;
  /** Arguments already validated against the tool's schema. */
  args: Record<string, unknown>;
  userId: string;
  requestId: string;
  sessionId: string;
  toolCallId: string;
  model: string;
  taskQueues: TaskQueues;
}

export interface ToolWorkflowResult {
  result: unknown;
  /** LLM tokens the tool spent (added to the request's usage). */
  usage: TokenUsage;
}
