/**
 * The inputs of a chat request's steps, built in one place. Pure functions of the
 * workflow input: workflows/chat.ts (through RequestMeter and converse) and the
 * benchmarks' in-process runner (bench/in-process-runner.ts) both build every step's
 * input here, so the floor the benchmark measures runs exactly the workflow's steps.
 */
import type { Activities } from '../activities';
import type { ChatWorkflowInput } from '../contracts/chat';
import type { PromptMessage, TokenUsage } from '../contracts/common';
import type { UsageRecord } from '../contracts/billing';
import { TOOL_NAMES } from '../contracts/tool';

type InputOf<K extends keyof Activities> = Parameters<Activities[K]>[0];

const ids = (input: ChatWorkflowInput) => ({ requestId: input.requestId, userId: input.userId });

/** Store the user's message and build the prompt. */
export function prepareChatInput(input: ChatWorkflowInput): InputOf<'prepareChat'> {
  return {
    ...ids(input),
    sessionId: input.sessionId,
    content: input.content,
    model: input.model,
    settings: input.settings,
  };
}

/** Reserve the prompt plus the completion budget against the user's quotas. */
export function reserveQuotaInput(
  input: ChatWorkflowInput,
  promptTokens: number,
): InputOf<'reserveQuota'> {
  return {
    ...ids(input),
    plan: input.plan,
    amount: promptTokens + input.settings.maxCompletionTokens,
  };
}

/** One LLM round; tools (the built-in ones and the MCP servers') unless past the last round. */
export function callLlmInput(
  input: ChatWorkflowInput,
  messages: PromptMessage[],
  round: number,
  offerTools: boolean,
): InputOf<'callLlm'> {
  return {
    ...ids(input),
    model: input.model,
    messages,
    maxTokens: input.settings.maxCompletionTokens,
    round,
    ...(offerTools ? { tools: TOOL_NAMES, mcpTools: true } : {}),
  };
}

/** Settle the reservation to what the request used. */
export function settleUsageInput(
  input: ChatWorkflowInput,
  usage: TokenUsage,
  dailyLimit: number | undefined,
): InputOf<'settleUsage'> {
  return {
    ...ids(input),
    sessionId: input.sessionId,
    model: input.model,
    plan: input.plan,
    usage,
    dailyLimit,
  };
}

/** The request's ledger row. `settledAt` decides its quota day (now when unknown). */
export function usageRecord(
  input: ChatWorkflowInput,
  usage: TokenUsage,
  settledAt: string | undefined,
): UsageRecord {
  return {
    ...ids(input),
    sessionId: input.sessionId,
    model: input.model,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    totalTokens: usage.totalTokens,
    estimated: usage.estimated,
    ...(usage.costUsd !== undefined ? { costUsd: usage.costUsd } : {}),
    createdAt: settledAt ?? new Date().toISOString(),
  };
}

/** The reply step's input: the reply, its ledger row (when it used tokens), `done`'s extras. */
export function saveReplyInput(
  input: ChatWorkflowInput,
  reply: { content: string; usage: TokenUsage },
  settledAt: string | undefined,
  extras: Partial<InputOf<'saveReply'>> = {},
): InputOf<'saveReply'> {
  return {
    ...ids(input),
    sessionId: input.sessionId,
    model: input.model,
    content: reply.content,
    usage: reply.usage,
    ledger: reply.usage.totalTokens > 0 ? usageRecord(input, reply.usage, settledAt) : undefined,
    ...extras,
  };
}
