/**
 * Bench-only variants of chatWorkflow's no-tool path for orchestration experiments
 * (bench/chat-tuning.ts). Same activities and order as the product; each variant
 * changes one thing. No error handling, no cancel: never deployed.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { TOOL_NAMES } from '../../contracts/tool';
import type { ChatSettings, ChatWorkflowInput, ChatWorkflowResult } from '../../contracts/chat';
import { fast, llmActivities, NON_RETRYABLE } from '../../workflows/proxies';
import type { TuningActivities } from '../tuning-activities';

interface Variant {
  /** callLlm as a regular activity (the product) or a local activity. */
  llm: 'activity' | 'local';
  /** prepareChat + reserveQuota as one local activity. */
  merged: boolean;
}

const tuning = proxyLocalActivities<TuningActivities>({ startToCloseTimeout: '10s' });

function localLlm(settings: ChatSettings) {
  return proxyLocalActivities<Activities>({
    startToCloseTimeout: settings.llmAttemptTimeoutMs,
    retry: {
      initialInterval: '300ms',
      backoffCoefficient: 2,
      maximumInterval: '2s',
      maximumAttempts: settings.llmMaxAttempts,
      nonRetryableErrorTypes: NON_RETRYABLE,
    },
  });
}

async function variant(input: ChatWorkflowInput, v: Variant): Promise<ChatWorkflowResult> {
  const ids = { requestId: input.requestId, userId: input.userId };
  const prepareInput = {
    ...ids,
    sessionId: input.sessionId,
    content: input.content,
    model: input.model,
    settings: input.settings,
  };
  let prepared: {
    messages: Awaited<ReturnType<Activities['prepareChat']>>['messages'];
    promptTokens: number;
  };
  let dailyLimit: number;
  if (v.merged) {
    const r = await tuning.prepareAndReserve({ ...prepareInput, plan: input.plan });
    prepared = r;
    dailyLimit = r.dailyLimit;
  } else {
    prepared = await fast.prepareChat(prepareInput);
    const r = await fast.reserveQuota({
      ...ids,
      plan: input.plan,
      amount: prepared.promptTokens + input.settings.maxCompletionTokens,
    });
    dailyLimit = r.dailyLimit;
  }
  const llm = v.llm === 'local' ? localLlm(input.settings) : llmActivities(input.settings);
  const reply = await llm.callLlm({
    ...ids,
    model: input.model,
    messages: prepared.messages,
    maxTokens: input.settings.maxCompletionTokens,
    round: 0,
    tools: TOOL_NAMES,
  });
  const settled = await fast.settleUsage({
    ...ids,
    sessionId: input.sessionId,
    model: input.model,
    plan: input.plan,
    usage: reply.usage,
    dailyLimit,
  });
  const ledger = {
    ...ids,
    sessionId: input.sessionId,
    model: input.model,
    ...reply.usage,
    createdAt: settled.settledAt,
  };
  const finished = await fast.saveReply({
    ...ids,
    sessionId: input.sessionId,
    model: input.model,
    content: reply.content,
    usage: reply.usage,
    ledger,
  });
  return { status: 'completed', messageId: finished.messageId, usage: reply.usage };
}

const base: Variant = { llm: 'activity', merged: false };

/** The product's steps, as a variant (the experiments' reference). */
export const benchChatBaseline = (i: ChatWorkflowInput) => variant(i, base);
/** callLlm as a local activity. */
export const benchChatLocalLlm = (i: ChatWorkflowInput) => variant(i, { ...base, llm: 'local' });
/** One local activity before the LLM call instead of two. */
export const benchChatMerged = (i: ChatWorkflowInput) => variant(i, { ...base, merged: true });
/** All of the above. */
export const benchChatAll = (i: ChatWorkflowInput) => variant(i, { llm: 'local', merged: true });

/**
 * The ceiling arm (bench/chat.ts): start, one local activity, complete. The most
 * workflow executions per second this server and worker setup give, whatever the work.
 */
export async function benchCeiling(): Promise<void> {
  await tuning.noop();
}
