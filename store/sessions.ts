/**
 * A user's chat sessions (docs/API.md "Sessions"): list (most recent activity first,
 * keyset-paginated), rename, delete, and the set of requests in flight in a session so
 * that deleting it can cancel them.
 *
 * Tenancy lives in the SQL: every statement is scoped to the user, so another user's
 * session reads exactly like a missing one (undefined / false).
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Session, SessionPage } from '../contracts/http';
import type { Queryable } from './db';
import { summaryCacheKey } from './summaries';

/** Longest automatic title (characters). */
export const AUTO_TITLE_MAX_CHARS = 80;
/** A user's title, after trimming (characters). */
export const TITLE_MIN_CHARS = 1;
export const TITLE_MAX_CHARS = 200;
/**
 * How long a session remembers a request as in flight: longer than a chat workflow runs
 * when it waits for no approval; a request that waits is tracked again for as long as
 * it may wait (activities/approvals.ts), so no live request is ever forgotten.
 */
export const IN_FLIGHT_TTL_SECONDS = 2 * 3600;

interface SessionRow {
  id: string;
  title: string | null;
  first_user_message: string | null;
  created_at: Date;
  last_message_at: Date;
  /** `last_message_at` as Postgres prints it (microseconds): exact in a cursor. */
  last_message_at_text: string;
  message_count: number;
  tokens: string;
}

/**
 * One statement per page of sessions. The first user message (the automatic title) is
 * read here, as a subquery, rather than through store/messages.ts: as a query of its own
 * it would cost a round trip per session, or a second query per page, for one column.
 */
const SELECT_SESSION = `
  SELECT s.id, s.title, s.created_at, s.last_message_at, s.last_message_at::text AS last_message_at_text,
         s.message_count,
         (SELECT left(m.content, ${AUTO_TITLE_MAX_CHARS * 4}) FROM chat_messages m
           WHERE m.session_id = s.id AND m.role = 'user' ORDER BY m.id LIMIT 1) AS first_user_message,
         (SELECT coalesce(sum(u.total_tokens), 0) FROM usage_records u
           WHERE u.session_id = s.id AND u.user_id = s.user_id) AS tokens
    FROM chat_sessions s`;

/**
 * Redis sorted set of the request ids started in a session in the last
 * {@link IN_FLIGHT_TTL_SECONDS} (score: start time in ms), hash-tagged like the summary
 * key. Finished ones are not removed: cancelling a finished request is a no-op, and the
 * window keeps the set bounded by the rate limit.
 */
export const inFlightKey = (sessionId: string) => `session-requests:{s:${sessionId}}`;

/** The start of a first message as a title: whitespace folded, at most 80 characters. */
export function autoTitle(firstMessage: string | null): string | null {
  if (firstMessage === null) return null;
  const folded = firstMessage.replace(/\s+/g, ' ').trim();
  if (!folded) return null;
  const chars = Array.from(folded);
  return chars.length <= AUTO_TITLE_MAX_CHARS
    ? folded
    : chars.slice(0, AUTO_TITLE_MAX_CHARS).join('').trimEnd();
}

function toView(r: SessionRow): Session {
  return {
    sessionId: r.id,
    title: r.title ?? autoTitle(r.first_user_message),
    createdAt: r.created_at.toISOString(),
    lastMessageAt: r.last_message_at.toISOString(),
    messageCount: r.message_count,
    tokens: Number(r.tokens),
  };
}

function encodeCursor(r: SessionRow): string {
  return Buffer.from(JSON.stringify([r.last_message_at_text, r.id])).toString('base64url');
}

/** A timestamptz as Postgres prints it, e.g. `2026-12-02 04:24:20.123456+00`. */
const PG_TIMESTAMPTZ_RE =
  /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * True when `text` is a timestamptz Postgres printed: the shape, and a real date and
 * time (a crafted `2026-02-31` or `+99` offset must never reach the `::timestamptz` cast).
 */
function isPgTimestamptz(text: string): boolean {
  const m = PG_TIMESTAMPTZ_RE.exec(text);
  if (!m) return false;
  const [
    year = 0,
    month = 0,
    day = 0,
    hour = 0,
    minute = 0,
    second = 0,
    ,
    offH = 0,
    offM = 0,
    offS = 0,
  ] = m.slice(1).map((v) => Number(v ?? 0));
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offH <= 15 &&
    offM <= 59 &&
    offS <= 59
  );
}

/** The cursor's position, or undefined when it is not one this module wrote. */
export function decodeCursor(cursor: string): { at: string; id: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string') return undefined;
  if (!isPgTimestamptz(at) || !UUID_RE.test(id)) return undefined;
  return { at, id };
}

export class SessionStore {
  constructor(
    private readonly db: Pool,
    private readonly redis: Redis,
  ) {}

  /** One page of the user's sessions, most recent activity first. */
  async list(
    userId: string,
    limit: number,
    cursor?: { at: string; id: string },
  ): Promise<SessionPage> {
    const params: unknown[] = [userId, limit + 1];
    let after = '';
    if (cursor) {
      params.push(cursor.at, cursor.id);
      after = 'AND (s.last_message_at, s.id) < ($3::timestamptz, $4::uuid)';
    }
    const { rows } = await this.db.query<SessionRow>(
      `${SELECT_SESSION} WHERE s.user_id = $1 ${after}
        ORDER BY s.last_message_at DESC, s.id DESC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      sessions: page.map(toView),
      ...(rows.length > limit && last ? { nextCursor: encodeCursor(last) } : {}),
    };
  }

  /** The user's session, or undefined (missing or someone else's). */
  async get(userId: string, sessionId: string): Promise<Session | undefined> {
    const { rows } = await this.db.query<SessionRow>(
      `${SELECT_SESSION} WHERE s.id = $1 AND s.user_id = $2`,
      [sessionId, userId],
    );
    return rows[0] && toView(rows[0]);
  }

  /** Sets the title (already validated); undefined when the user has no such session. */
  async rename(userId: string, sessionId: string, title: string): Promise<Session | undefined> {
    const { rowCount } = await this.db.query(
      'UPDATE chat_sessions SET title = $3 WHERE id = $1 AND user_id = $2',
      [sessionId, userId, title],
    );
    return rowCount ? this.get(userId, sessionId) : undefined;
  }

  /**
   * Deletes the session with its messages and summary (Postgres cascade, then the
   * cached summary). Usage records have no foreign key and stay. Returns the request
   * ids that may still be in flight in it (the caller cancels them), or undefined when
   * the user has no such session.
   */
  async delete(userId: string, sessionId: string): Promise<string[] | undefined> {
    const { rowCount } = await this.db.query(
      'DELETE FROM chat_sessions WHERE id = $1 AND user_id = $2',
      [sessionId, userId],
    );
    if (!rowCount) return undefined;
    const key = inFlightKey(sessionId);
    const [[, members]] = (await this.redis
      .multi()
      .zrange(key, 0, -1)
      .del(key, summaryCacheKey(sessionId))
      .exec()) as [[Error | null, string[]]];
    return members;
  }
}

/**
 * True when the session exists and belongs to the user. A chat request's session is
 * checked once: where, and why there, is said at api/chat.ts `startChat`.
 */
export async function ownsSession(
  db: Queryable,
  userId: string,
  sessionId: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM chat_sessions WHERE id = $1 AND user_id = $2',
    [sessionId, userId],
  );
  return rowCount === 1;
}

/**
 * Remembers a request as in flight in its session, before its workflow starts: a
 * delete that comes after this finds it and cancels it; a delete that came before has
 * already removed the session, so the request is refused (or ends `not_found` at its
 * first step).
 */
export async function trackSessionRequest(
  redis: Redis,
  sessionId: string,
  requestId: string,
  /** More time the request may run from now (a wait for an approval); never shortens. */
  extraSeconds = 0,
): Promise<void> {
  const key = inFlightKey(sessionId);
  const now = Date.now();
  await redis
    .multi()
    .zadd(key, 'GT', now + extraSeconds * 1000, requestId)
    .zremrangebyscore(key, '-inf', now - IN_FLIGHT_TTL_SECONDS * 1000)
    .expire(key, IN_FLIGHT_TTL_SECONDS, 'NX')
    .expire(key, IN_FLIGHT_TTL_SECONDS + extraSeconds, 'GT')
    .exec();
}

/**
 * True when a write failed because its session no longer exists (the foreign key of a
 * message or summary to a deleted session): the request is over, not worth a retry.
 */
export function isSessionGone(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return (
    e?.code === '23503' &&
    typeof e.constraint === 'string' &&
    e.constraint.endsWith('_session_id_fkey')
  );
}

/**
 * A message could not be stored because its session was deleted meanwhile (see
 * {@link isSessionGone}). The activity wrapper (activities/failures.ts) ends the request
 * `cancelled` at once: the delete also cancels it, and no retry can bring the session back.
 */
export class SessionGoneError extends Error {
  override readonly name = 'SessionGoneError';

  constructor(sessionId: string, cause: unknown) {
    super(`session ${sessionId} was deleted`, { cause });
  }
}
