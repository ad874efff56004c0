/**
 * When a session's older turns should be summarised (asynchronously): one rule for every
 * door (the WebSocket chat's prepareChat and the OpenAI-compatible session mode).
 */
import type { ChatSettings } from '../contracts/chat';
import type { CircuitBreaker } from '../lib/circuit-breaker';
import type { Queryable } from '../store/db';
import { countMessagesBetween, countMessagesUpTo } from '../store/messages';

export interface SummaryDueQuery {
  sessionId: string;
  /** The request's own message: later messages are not counted. */
  upToId: string;
  /** First message of the request's prompt window. */
  windowStartId: string;
  /** The current summary's watermark (none yet: undefined). */
  watermark: string | undefined;
  settings: ChatSettings;
}

/**
 * True when the session has passed the threshold, holds at least
 * `summaryMinNewMessages` messages older than the window that no summary covers yet
 * (so summaries run in batches, not on every turn), and the summary LLM's breaker is
 * closed. The queries are bounded by those settings, not by the conversation's length.
 */
export async function isSummaryDue(
  db: Queryable,
  breaker: CircuitBreaker,
  q: SummaryDueQuery,
): Promise<boolean> {
  const { settings } = q;
  // Most sessions are short: one query answers them.
  const total = await countMessagesUpTo(db, q.sessionId, q.upToId, settings.summaryThreshold + 1);
  if (total <= settings.summaryThreshold) return false;
  const min = settings.summaryMinNewMessages;
  const uncovered = await countMessagesBetween(
    db,
    q.sessionId,
    q.watermark ?? '0',
    q.windowStartId,
    min,
  );
  if (uncovered < min) return false;
  return !(await breaker.isOpen().catch(() => true));
}
