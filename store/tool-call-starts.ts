/**
 * "This tool call has started": the durable record that keeps a tool that may act on
 * the world from running twice (activities/mcp.ts). Written before the call is sent;
 * a second attempt of the same task finds it and does not call again.
 */
import type { Queryable } from './db';

/** Records that `taskId`'s call starts now; false when it had already started once. */
export async function markToolCallStarted(db: Queryable, taskId: string): Promise<boolean> {
  const res = await db.query(
    'INSERT INTO tool_call_starts (task_id) VALUES ($1) ON CONFLICT (task_id) DO NOTHING',
    [taskId],
  );
  return res.rowCount === 1;
}
