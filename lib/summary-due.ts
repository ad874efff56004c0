/**
 * When a session's older turns should be summarised (asynchronously): one rule for every
 * door (the WebSocket chat's prepareChat and the OpenAI-compatible session mode).
 */
import type { Pool } from 'pg';
import type { ChatSettings } from '../contracts/definitions';
import type { CircuitBreaker } from './circuit-breaker';

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
  db: Pool,
  breaker: CircuitBreaker,
  q: SummaryDueQuery,
): Promise<boolean> {
  const { settings } = q;
  const { rows } = await db.query<{ total: string; uncovered: string }>(
    `SELECT
       (SELECT count(*) FROM (SELECT 1 FROM chat_messages
          WHERE session_id = $1 AND id <= $2 LIMIT $3) t) AS total,
       (SELECT count(*) FROM (SELECT 1 FROM chat_messages
          WHERE session_id = $1 AND id < $4 AND id > $5 LIMIT $6) u) AS uncovered`,
    [
      q.sessionId,
      q.upToId,
      settings.summaryThreshold + 1,
      q.windowStartId,
      q.watermark ?? '0',
      settings.summaryMinNewMessages,
    ],
  );
  const r = rows[0];
  if (!r || Number(r.total) <= settings.summaryThreshold) return false;
  if (Number(r.uncovered) < settings.summaryMinNewMessages) return false;
  return !(await breaker.isOpen().catch(() => true));
}
