/**
 * The messages repository: the statements on `chat_messages` (migration 001) of the
 * chat steps, the summaries, and the API's listing (the one other reader is the sessions
 * list's title subquery, store/sessions.ts). Functions take a {@link Queryable}, so a
 * caller inside a transaction passes its client.
 *
 * One write rule: a message is stored once per (session, message key). The key comes
 * from the request (e.g. `<requestId>:user`), so a retried step writes the same key again,
 * changes nothing, and gets back the id the first attempt stored.
 */
import type { LlmToolCall } from '../contracts/common';
import type { Message } from '../contracts/http';
import type { Queryable } from './db';
import type { HistoryMessage } from '../prompt/pruner';
import { isSessionGone, SessionGoneError } from './sessions';

export type MessageRole = HistoryMessage['role'];

/** A message to store. */
export interface NewMessage {
  sessionId: string;
  requestId: string;
  /** Unique within the session: the same key again is the same message (a retry). */
  key: string;
  role: MessageRole;
  content: string;
  toolCalls?: readonly LlmToolCall[];
  toolCallId?: string;
  /** Prompt cost of the message, counted once when stored (prompt/tokens.ts). */
  tokens: number;
  /** True when `tokens` was counted locally because the provider reported no usage. */
  tokensEstimated?: boolean;
  model: string;
}

interface MessageRow {
  id: string;
  role: MessageRole;
  content: string;
  tool_calls: LlmToolCall[] | null;
  tool_call_id: string | null;
  tokens: number;
  created_at: Date;
}

const COLUMNS = 'id, role, content, tool_calls, tool_call_id, tokens, created_at';

/*
 * Every read below names its slice of one session as a range of the (session_id, id)
 * index, both ends as row comparisons: `(session_id, id) > ($1, lower) AND (session_id,
 * id) <= ($1, upper)`. Only that index can serve them, and the scan starts at one end, so
 * a read costs what it returns. Written as `session_id = $1 AND id <= $2` the planner may
 * walk the primary key and filter by session, reading rows of every session (measured:
 * 107 ms instead of 0.1 ms for a 21-row count); with the equality kept beside the row
 * comparisons, the scan may start at the session's first entry instead of at the bound.
 * Each read also orders by (session_id, id), even a count: without it the planner once took
 * the (session_id, message_key) index and filtered the whole session by id.
 * (BENCHMARKS.md "pruning": prepareChat on 10,000 messages vs 20.)
 */
const FIRST_ID = '0';
const LAST_ID = '9223372036854775807';

function toHistory(r: MessageRow): HistoryMessage {
  return {
    id: String(r.id),
    role: r.role,
    content: r.content,
    toolCalls: r.tool_calls,
    toolCallId: r.tool_call_id,
    tokens: r.tokens,
  };
}

/**
 * Stores the message once and returns its id, whether this call stored it or an earlier
 * attempt did. The no-op `DO UPDATE` is what returns that id: `DO NOTHING` returns no
 * row on a conflict, and a second SELECT would not see a row that a concurrent attempt
 * committed after this statement began. (Only INSERT triggers keep the session's counts,
 * and a conflict fires none.) Throws {@link SessionGoneError} when the session no longer
 * exists.
 */
export async function insertMessage(q: Queryable, m: NewMessage): Promise<string> {
  try {
    const { rows } = await q.query<{ id: string }>(
      `INSERT INTO chat_messages
         (session_id, request_id, message_key, role, content, tool_calls, tool_call_id, tokens, tokens_estimated, model)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (session_id, message_key) DO UPDATE SET message_key = EXCLUDED.message_key
       RETURNING id`,
      [
        m.sessionId,
        m.requestId,
        m.key,
        m.role,
        m.content,
        m.toolCalls?.length ? JSON.stringify(m.toolCalls) : null,
        m.toolCallId ?? null,
        m.tokens,
        m.tokensEstimated ?? false,
        m.model,
      ],
    );
    return String(rows[0]?.id);
  } catch (err) {
    if (isSessionGone(err)) throw new SessionGoneError(m.sessionId, err);
    throw err;
  }
}

/** The session's `limit` newest messages (none newer than `upToId` when given), newest first. */
async function newestRows(
  q: Queryable,
  sessionId: string,
  limit: number,
  upToId?: string,
): Promise<MessageRow[]> {
  const { rows } = await q.query<MessageRow>(
    `SELECT ${COLUMNS} FROM chat_messages
      WHERE (session_id, id) > ($1::uuid, $2::bigint) AND (session_id, id) <= ($1::uuid, $3::bigint)
      ORDER BY session_id DESC, id DESC LIMIT $4`,
    [sessionId, FIRST_ID, upToId ?? LAST_ID, limit],
  );
  return rows;
}

/**
 * A request's history window, oldest first: the session's `limit` newest messages that
 * end at `upToId`, the request's own (last) message. Messages of later requests in the
 * same session never leak into this prompt, even on a retry.
 */
export async function historyWindow(
  q: Queryable,
  sessionId: string,
  upToId: string,
  limit: number,
): Promise<HistoryMessage[]> {
  return (await newestRows(q, sessionId, limit, upToId)).reverse().map(toHistory);
}

/** The session's `limit` newest messages, oldest first, as the API answers them. */
export async function listMessages(
  q: Queryable,
  sessionId: string,
  limit: number,
): Promise<Message[]> {
  return (await newestRows(q, sessionId, limit)).reverse().map((r) => ({
    id: String(r.id),
    role: r.role,
    content: r.content,
    createdAt: r.created_at.toISOString(),
    tokens: r.tokens,
  }));
}

/** Up to `limit` messages with ids strictly between `afterId` and `beforeId`, oldest first. */
export async function messagesBetween(
  q: Queryable,
  sessionId: string,
  afterId: string,
  beforeId: string,
  limit: number,
): Promise<HistoryMessage[]> {
  const { rows } = await q.query<MessageRow>(
    `SELECT ${COLUMNS} FROM chat_messages
      WHERE (session_id, id) > ($1::uuid, $2::bigint) AND (session_id, id) < ($1::uuid, $3::bigint)
      ORDER BY session_id, id LIMIT $4`,
    [sessionId, afterId, beforeId, limit],
  );
  return rows.map(toHistory);
}

/*
 * Counts stop at `cap`: callers only ask "at least N?", so a count costs O(cap), not
 * O(history).
 */

/** How many of the session's messages have ids up to `upToId` (at most `cap`). */
export async function countMessagesUpTo(
  q: Queryable,
  sessionId: string,
  upToId: string,
  cap: number,
): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM chat_messages
      WHERE (session_id, id) > ($1::uuid, $2::bigint) AND (session_id, id) <= ($1::uuid, $3::bigint)
      ORDER BY session_id DESC, id DESC LIMIT $4) t`,
    [sessionId, FIRST_ID, upToId, cap],
  );
  return Number(rows[0]?.n ?? 0);
}

/** How many of the session's messages have ids strictly between the two (at most `cap`). */
export async function countMessagesBetween(
  q: Queryable,
  sessionId: string,
  afterId: string,
  beforeId: string,
  cap: number,
): Promise<number> {
  const { rows } = await q.query<{ n: string }>(
    `SELECT count(*) AS n FROM (SELECT 1 FROM chat_messages
      WHERE (session_id, id) > ($1::uuid, $2::bigint) AND (session_id, id) < ($1::uuid, $3::bigint)
      ORDER BY session_id, id LIMIT $4) t`,
    [sessionId, afterId, beforeId, cap],
  );
  return Number(rows[0]?.n ?? 0);
}

/** Id of the session's `n`-th newest message (1: the newest); undefined when it has fewer. */
export async function nthNewestMessageId(
  q: Queryable,
  sessionId: string,
  n: number,
): Promise<string | undefined> {
  const { rows } = await q.query<{ id: string }>(
    `SELECT id FROM chat_messages
      WHERE (session_id, id) > ($1::uuid, $2::bigint) AND (session_id, id) <= ($1::uuid, $3::bigint)
      ORDER BY session_id DESC, id DESC OFFSET $4 LIMIT 1`,
    [sessionId, FIRST_ID, LAST_ID, n - 1],
  );
  return rows[0] === undefined ? undefined : String(rows[0].id);
}
