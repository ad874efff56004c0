/**
 * The responses repository (`responses`, migration 009): the small row a response adds to
 * its chat request (docs/API.md "Responses API"). What the response says is never copied
 * here: it is rendered from the request's event log, or rebuilt from the session's stored
 * reply and the ledger row once the log has expired (see {@link storedReply}).
 *
 * A response id is `resp_` and the hex of its request id, so the id alone names the
 * request, its workflow and its log; the row says whose it is. Every read is by
 * (user, id): another user's response is missing, as an unknown one is.
 */
import type { LlmToolCall } from '../contracts/common';
import type { ErrorCode } from '../contracts/errors';
import type { Queryable } from './db';

/** Final statuses a row can record (the API writes one the first time it sees the end). */
export type FinalStatus = 'completed' | 'incomplete' | 'failed' | 'cancelled';

export interface ResponseRow {
  id: string;
  userId: string;
  requestId: string;
  sessionId: string;
  previousResponseId: string | null;
  model: string;
  background: boolean;
  metadata: Record<string, string>;
  createdAt: Date;
  status: FinalStatus | null;
  error: { code: ErrorCode; message: string } | null;
}

export type NewResponse = Omit<ResponseRow, 'createdAt' | 'status' | 'error'>;

interface Row {
  id: string;
  user_id: string;
  request_id: string;
  session_id: string;
  previous_response_id: string | null;
  model: string;
  background: boolean;
  metadata: Record<string, string>;
  created_at: Date;
  status: FinalStatus | null;
  error: { code: ErrorCode; message: string } | null;
}

const COLUMNS =
  'id, user_id, request_id, session_id, previous_response_id, model, background, metadata, created_at, status, error';

const toRow = (r: Row): ResponseRow => ({
  id: r.id,
  userId: r.user_id,
  requestId: r.request_id,
  sessionId: r.session_id,
  previousResponseId: r.previous_response_id,
  model: r.model,
  background: r.background,
  metadata: r.metadata,
  createdAt: r.created_at,
  status: r.status,
  error: r.error,
});

const HEX_ID = /^resp_([0-9a-f]{32})$/;

/** The response id of a request id (a UUID). */
export function responseIdOf(requestId: string): string {
  return `resp_${requestId.replace(/-/g, '').toLowerCase()}`;
}

/** The request id a response id names; undefined when it is not one of ours. */
export function requestIdOfResponse(id: string): string | undefined {
  const h = HEX_ID.exec(id)?.[1];
  return (
    h && `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
  );
}

/** The stored reply of a request, as saved by its reply step. */
export interface StoredReply {
  content: string;
  toolCalls: LlmToolCall[];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number } | undefined;
}

export class ResponseStore {
  constructor(
    private readonly db: Queryable,
    private readonly ttlDays: number,
  ) {}

  /**
   * Creates the session a new chain is (its id is the first request's, so a retried
   * create makes no second one) and the response row; an existing row (the same
   * Idempotency-Key again, racing) is returned as it is, with `created` false.
   */
  async create(
    r: NewResponse,
    newSession: boolean,
  ): Promise<{ row: ResponseRow; created: boolean }> {
    const { rows } = await this.db.query<Row>(
      `WITH s AS (
         INSERT INTO chat_sessions (id, user_id) SELECT $4, $2 WHERE $10 ON CONFLICT (id) DO NOTHING
       )
       INSERT INTO responses (id, user_id, request_id, session_id, previous_response_id, model, background, metadata, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(days => $9))
       ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [
        r.id,
        r.userId,
        r.requestId,
        r.sessionId,
        r.previousResponseId,
        r.model,
        r.background,
        JSON.stringify(r.metadata),
        this.ttlDays,
        newSession,
      ],
    );
    if (rows[0]) return { row: toRow(rows[0]), created: true };
    const existing = await this.get(r.userId, r.id);
    if (!existing) throw new Error(`response ${r.id} exists for another user`);
    return { row: existing, created: false };
  }

  /** The user's response, unless it is unknown, someone else's, deleted or expired. */
  async get(userId: string, id: string): Promise<ResponseRow | undefined> {
    const { rows } = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM responses WHERE id = $1 AND user_id = $2 AND expires_at > now()`,
      [id, userId],
    );
    return rows[0] && toRow(rows[0]);
  }

  /** Records the final status the first time the API sees it (later calls change nothing). */
  async settle(
    userId: string,
    id: string,
    status: FinalStatus,
    error: ResponseRow['error'],
  ): Promise<void> {
    await this.db.query(
      'UPDATE responses SET status = $3, error = $4 WHERE id = $1 AND user_id = $2 AND status IS NULL',
      [id, userId, status, error && JSON.stringify(error)],
    );
  }

  /** Deletes the user's response; false when there was none. */
  async delete(userId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'DELETE FROM responses WHERE id = $1 AND user_id = $2',
      [id, userId],
    );
    return rowCount === 1;
  }

  /** Drops the user's expired responses (run on each create: retention costs no job). */
  async purgeExpired(userId: string): Promise<void> {
    await this.db.query('DELETE FROM responses WHERE user_id = $1 AND expires_at <= now()', [
      userId,
    ]);
  }

  /** Removes a row (and the session it alone created) whose request never started. */
  async discard(r: ResponseRow, newSession: boolean): Promise<void> {
    await this.db.query('DELETE FROM responses WHERE id = $1 AND user_id = $2', [r.id, r.userId]);
    if (newSession)
      await this.db.query('DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2', [
        r.sessionId,
        r.userId,
      ]);
  }

  /**
   * The reply its request stored in the session, with the request's ledger row: what a
   * response says once its event log has expired. Undefined when no reply was stored.
   */
  async storedReply(r: ResponseRow): Promise<StoredReply | undefined> {
    const [reply, usage] = await Promise.all([
      this.db.query<{ content: string; tool_calls: LlmToolCall[] | null }>(
        'SELECT content, tool_calls FROM chat_messages WHERE session_id = $1 AND message_key = $2',
        [r.sessionId, `${r.requestId}:assistant`],
      ),
      this.db.query<{ prompt_tokens: number; completion_tokens: number; total_tokens: number }>(
        'SELECT prompt_tokens, completion_tokens, total_tokens FROM usage_records WHERE user_id = $1 AND request_id = $2',
        [r.userId, r.requestId],
      ),
    ]);
    const m = reply.rows[0];
    if (!m) return undefined;
    const u = usage.rows[0];
    return {
      content: m.content,
      toolCalls: m.tool_calls ?? [],
      usage: u && {
        promptTokens: u.prompt_tokens,
        completionTokens: u.completion_tokens,
        totalTokens: u.total_tokens,
      },
    };
  }
}
