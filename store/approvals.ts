/**
 * Tool calls waiting for the user's decision (table `tool_approvals`, migration 008).
 * The row is the one truth about a call's decision: the API decides a pending row, the
 * chat workflow closes an undecided one as expired or cancelled, and whichever writes
 * first wins (one conditional UPDATE each), so a decision that races the expiry is
 * either honoured by the workflow or answered 404, never both.
 */
import type { ApprovalDecision, ApprovalEnd, PendingApproval } from '../contracts/approval';
import type { Queryable } from './db';

export interface ApprovalKey {
  userId: string;
  requestId: string;
  toolCallId: string;
}

export interface NewApproval extends ApprovalKey {
  sessionId: string;
  name: string;
  /** The arguments as the LLM wrote them (JSON text). */
  arguments: string;
  expiresAt: string;
}

const KEY_WHERE = 'user_id = $1 AND request_id = $2 AND tool_call_id = $3';

/** Records a waiting call (a retry of the step finds its row and changes nothing). */
export async function openApproval(db: Queryable, a: NewApproval): Promise<void> {
  await db.query(
    `INSERT INTO tool_approvals (user_id, request_id, tool_call_id, session_id, name, arguments, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
    [a.userId, a.requestId, a.toolCallId, a.sessionId, a.name, a.arguments, a.expiresAt],
  );
}

/** What a user's decision did: recorded now, the same as before, the other one before, or nothing to decide. */
export type DecideOutcome = 'decided' | 'same' | 'conflict' | 'not_found';

/** Records the user's decision on a pending call (docs/API.md: 200, 200 again, 409, 404). */
export async function decideApproval(
  db: Queryable,
  key: ApprovalKey,
  decision: ApprovalDecision,
): Promise<DecideOutcome> {
  const args = [key.userId, key.requestId, key.toolCallId];
  const updated = await db.query(
    `UPDATE tool_approvals SET decision = $4, decided_at = now()
     WHERE ${KEY_WHERE} AND decision IS NULL AND expires_at > now()`,
    [...args, decision],
  );
  if (updated.rowCount === 1) return 'decided';
  const { rows } = await db.query<{ decision: string | null }>(
    `SELECT decision FROM tool_approvals WHERE ${KEY_WHERE}`,
    args,
  );
  const prior = rows[0]?.decision;
  if (prior === decision) return 'same';
  if (prior === 'approve' || prior === 'deny') return 'conflict';
  return 'not_found';
}

/**
 * Ends a waiting call: an undecided row becomes `end`; a decided one keeps its
 * decision. Returns the row's final decision (what the workflow must do).
 */
export async function closeApproval(db: Queryable, key: ApprovalKey, end: 'expired' | 'cancelled'): Promise<ApprovalEnd> {
  const args = [key.userId, key.requestId, key.toolCallId];
  await db.query(
    `UPDATE tool_approvals SET decision = $4, decided_at = now() WHERE ${KEY_WHERE} AND decision IS NULL`,
    [...args, end],
  );
  const { rows } = await db.query<{ decision: ApprovalEnd | null }>(
    `SELECT decision FROM tool_approvals WHERE ${KEY_WHERE}`,
    args,
  );
  return rows[0]?.decision ?? end;
}

interface PendingRow {
  request_id: string;
  session_id: string;
  tool_call_id: string;
  name: string;
  arguments: string;
  created_at: Date;
  expires_at: Date;
}

function toPending(r: PendingRow): PendingApproval {
  let args: unknown = r.arguments;
  try {
    args = JSON.parse(r.arguments) as unknown;
  } catch {
    // Kept as written: the client sees the raw text.
  }
  return {
    requestId: r.request_id,
    sessionId: r.session_id,
    toolCallId: r.tool_call_id,
    name: r.name,
    arguments: args,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
  };
}

/** The user's calls that wait for a decision now, oldest first. */
export async function listPendingApprovals(db: Queryable, userId: string, limit = 100): Promise<PendingApproval[]> {
  const { rows } = await db.query<PendingRow>(
    `SELECT request_id, session_id, tool_call_id, name, arguments, created_at, expires_at
     FROM tool_approvals WHERE user_id = $1 AND decision IS NULL AND expires_at > now()
     ORDER BY created_at, tool_call_id LIMIT $2`,
    [userId, limit],
  );
  return rows.map(toPending);
}

/** Every user's waiting calls older than `olderThanMs` (operators: `approvals:pending`). */
export async function listAllPendingApprovals(
  db: Queryable,
  olderThanMs: number,
  limit = 500,
): Promise<Array<PendingApproval & { userId: string }>> {
  const { rows } = await db.query<PendingRow & { user_id: string }>(
    `SELECT user_id, request_id, session_id, tool_call_id, name, arguments, created_at, expires_at
     FROM tool_approvals WHERE decision IS NULL AND expires_at > now()
       AND created_at <= now() - make_interval(secs => $1)
     ORDER BY created_at LIMIT $2`,
    [olderThanMs / 1000, limit],
  );
  return rows.map((r) => ({ userId: r.user_id, ...toPending(r) }));
}
