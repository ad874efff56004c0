/**
 * Contracts shared by the API, the workers and the workflows: task queues, workflow
 * ids, signals and queries, and the JSON-safe inputs and outputs of workflows.
 * Nothing else names a signal, query or task queue by string.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
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
  /** Per-attempt limit of one LLM call, and how many attempts (Temporal retries). */
  llmAttemptTimeoutMs: number;
  llmMaxAttempts: number;
}

export interface ChatWorkflowInput {
  requestId: string;
  userId: string;
  sessionId: string;
  content: string;
  model: string;
  plan: Plan;
  taskQueues: TaskQueues;
  settings: ChatSettings;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when counted locally with tiktoken because the provider sent no usage. */
  estimated: boolean;
}

export type ChatWorkflowResult =
  | { status: 'completed'; messageId: string; usage: TokenUsage }
  | { status: 'error'; code: ErrorCode; message: string };

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
