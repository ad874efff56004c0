/**
 * Bench-only activities for orchestration experiments (bench/chat-tuning.ts): built
 * from the real ones, registered only on the experiment's own workers.
 */
import type { Activities } from '../activities';
import type { PrepareChatInput, PrepareChatOutput } from '../activities/chat';
import type { Plan } from '../contracts/common';

export interface PrepareAndReserveInput extends PrepareChatInput {
  plan: Plan;
}

/** Creates the experiment activities over the real ones. */
export function createTuningActivities(acts: Activities) {
  /** prepareChat then reserveQuota in one local activity (one fewer before the LLM call). */
  async function prepareAndReserve(
    input: PrepareAndReserveInput,
  ): Promise<PrepareChatOutput & { dailyLimit: number }> {
    const prepared = await acts.prepareChat(input);
    const reserved = await acts.reserveQuota({
      userId: input.userId,
      requestId: input.requestId,
      plan: input.plan,
      amount: prepared.promptTokens + input.settings.maxCompletionTokens,
    });
    return { ...prepared, dailyLimit: reserved.dailyLimit };
  }
  /** Does nothing: the ceiling arm's one local activity. */
  async function noop(): Promise<void> {}
  return { prepareAndReserve, noop };
}

export type TuningActivities = ReturnType<typeof createTuningActivities>;
