/**
 * The prompt of a request in a stored session, shared by `prepareChat` (WebSocket) and
 * `prepareCompletion` (OpenAI door with X-Session-Id): the system prompt, the session's
 * summary and the newest stored messages that fit the budget, and whether a summary is
 * now due. Each caller stores its own messages first and passes the window ending at them.
 */
import type { ChatSettings } from '../contracts/chat';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { ContextTooLargeError, prune, type HistoryMessage } from '../prompt/pruner';
import { isSummaryDue } from '../prompt/summary-due';
import type { PrepareChatOutput } from './chat';
import type { ActivityDeps } from './deps';

export interface SessionPromptInput {
  sessionId: string;
  /** The window of stored messages, oldest first, ending at this request's own (`upToId`). */
  history: readonly HistoryMessage[];
  upToId: string;
  system: string;
  systemTokens: number;
  /** Prompt tokens the model leaves after the reply and the safety margin. */
  budget: number;
  settings: ChatSettings;
}

/** A prompt that cannot fit, whatever is pruned: no retry can fix it. */
export const contextTooLarge = (message: string) =>
  failure(FAILURE_TYPES.ContextTooLarge, message, { nonRetryable: true, benign: true });

export async function sessionPrompt(
  deps: ActivityDeps,
  input: SessionPromptInput,
): Promise<PrepareChatOutput> {
  const { settings } = input;
  const summary = await deps.summaries.get(input.sessionId);
  let pruned;
  try {
    pruned = prune({
      systemPrompt: input.system,
      systemTokens: input.systemTokens,
      summary: summary && {
        text: summary.text,
        watermark: summary.watermark,
        tokens: summary.tokens,
      },
      history: input.history,
      maxMessages: settings.maxHistoryMessages,
      budget: input.budget,
    });
  } catch (err) {
    if (err instanceof ContextTooLargeError) throw contextTooLarge(err.message);
    throw err;
  }
  const summaryDue = await isSummaryDue(deps.db, deps.summaryBreaker, {
    sessionId: input.sessionId,
    upToId: input.upToId,
    windowStartId: pruned.windowStartId,
    watermark: summary?.watermark,
    settings,
  });
  return {
    messages: pruned.messages,
    promptTokens: pruned.promptTokens,
    summaryDue,
    windowStartId: pruned.windowStartId,
  };
}
