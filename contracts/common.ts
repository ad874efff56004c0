/**
 * Contracts every workflow shares: task queues, plans, token usage and the OpenAI-format
 * prompt messages. Each workflow's own contract (ids, signals, queries, input, result)
 * is in the file named after it. Nothing else names a signal, query or task queue by string.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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

export type Plan = 'free' | 'pro';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** True when counted locally with tiktoken because the provider sent no usage. */
  estimated: boolean;
  /**
   * What the tokens cost in US dollars, at the price of the provider that answered
   * (docs/API.md "Models and providers"); absent when no price is configured.
   */
  costUsd?: number;
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
  const sum: TokenUsage = {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    estimated: a.estimated || b.estimated,
  };
  // Costs add to the nano-dollar (the ledger's precision), so sums do not drift.
  if (a.costUsd !== undefined || b.costUsd !== undefined) {
    sum.costUsd = Math.round(((a.costUsd ?? 0) + (b.costUsd ?? 0)) * 1e9) / 1e9;
  }
  return sum;
}

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

/** Search attribute of chat and tool workflows (Temporal UI: `SessionId = '...'`). */
export const SESSION_ID_SEARCH_ATTRIBUTE = defineSearchAttributeKey(
  'SessionId',
  SearchAttributeType.KEYWORD,
);
