/**
 * Bench-only variants of chatWorkflow's no-tool path for orchestration experiments
 * (bench/chat-tuning.ts). Same activities and order as the product; each variant
 * changes one thing. No error handling, no cancel: never deployed.
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ChatSettings, ChatWorkflowInput, ChatWorkflowResult } from '../../contracts/chat';
import { fast, llmActivities, NON_RETRYABLE } from '../../workflows/proxies';
import {
  callLlmInput,
  prepareChatInput,
  reserveQuotaInput,
  saveReplyInput,
  settleUsageInput,
} from '../../workflows/steps';
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
  const prepareInput = prepareChatInput(input);
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
    const r = await fast.reserveQuota(reserveQuotaInput(input, prepared.promptTokens));
    dailyLimit = r.dailyLimit;
  }
  const llm = v.llm === 'local' ? localLlm(input.settings) : llmActivities(input.settings);
  const reply = await llm.callLlm(callLlmInput(input, prepared.messages, 0, true));
  const settled = await fast.settleUsage(settleUsageInput(input, reply.usage, dailyLimit));
  const finished = await fast.saveReply(saveReplyInput(input, reply, settled.settledAt));
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
