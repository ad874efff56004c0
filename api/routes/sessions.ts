/**
 * Sessions you can manage (docs/API.md "Sessions"): `GET /v1/sessions` lists the user's
 * sessions, most recent activity first; `PATCH /v1/sessions/:sessionId` renames one;
 * `DELETE /v1/sessions/:sessionId` deletes it (messages and summary; usage records stay)
 * and cancels its requests in flight. Another user's session answers 404, exactly as a
 * missing one.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import express, { type Request } from 'express';
import { cancelSignal, chatWorkflowId } from '../../contracts/chat';
import { ERRORS } from '../../contracts/errors';
import { decodeCursor, SessionStore, TITLE_MAX_CHARS, TITLE_MIN_CHARS } from '../../store/sessions';
import { unstorableTextProblem } from '../../store/storable-text';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';
import { isUuid } from '../frames';

const MAX_LIST_LIMIT = 100;
const DEFAULT_LIST_LIMIT = 20;

function userIdOf(req: Request): string {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user.userId;
}

/** The session id of the path; a malformed one is simply not found. */
function sessionIdOf(req: Request): string {
  const sessionId = String(req.params.sessionId).toLowerCase();
  if (!isUuid(sessionId)) throw new AppError(ERRORS.NotFound, 'session not found');
  return sessionId;
}

function parseListLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_LIST_LIMIT;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1 || n > MAX_LIST_LIMIT) {
    throw new AppError(
      ERRORS.BadRequest,
      `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`,
    );
  }
  return n;
}

function parseTitle(body: unknown): string {
  const title = (body as { title?: unknown } | null | undefined)?.title;
  if (typeof title !== 'string') throw new AppError(ERRORS.BadRequest, 'title must be a string');
  const problem = unstorableTextProblem(title);
  if (problem) throw new AppError(ERRORS.BadRequest, `title ${problem}`);
  const trimmed = title.trim();
  const length = Array.from(trimmed).length;
  if (length < TITLE_MIN_CHARS || length > TITLE_MAX_CHARS) {
    throw new AppError(
      ERRORS.BadRequest,
      `title must be ${TITLE_MIN_CHARS} to ${TITLE_MAX_CHARS} characters after trimming`,
    );
  }
  return trimmed;
}

/** The session routes, mounted on the authenticated `/v1` router. */
export function sessionsRouter(deps: ApiDeps): express.Router {
  const router = express.Router();
  const store = new SessionStore(deps.db, deps.redis);

  router.get('/sessions', async (req, res) => {
    const limit = parseListLimit(req.query.limit);
    const rawCursor = req.query.cursor;
    let cursor: { at: string; id: string } | undefined;
    if (rawCursor !== undefined) {
      cursor = typeof rawCursor === 'string' ? decodeCursor(rawCursor) : undefined;
      if (!cursor) throw new AppError(ERRORS.BadRequest, 'cursor is not one this API returned');
    }
    res.json(await store.list(userIdOf(req), limit, cursor));
  });

  router.patch('/sessions/:sessionId', async (req, res) => {
    const sessionId = sessionIdOf(req);
    const title = parseTitle(req.body);
    const session = await store.rename(userIdOf(req), sessionId, title);
    if (!session) throw new AppError(ERRORS.NotFound, 'session not found');
    res.json(session);
  });

  router.delete('/sessions/:sessionId', async (req, res) => {
    const userId = userIdOf(req);
    const inFlight = await store.delete(userId, sessionIdOf(req));
    if (!inFlight) throw new AppError(ERRORS.NotFound, 'session not found');
    await Promise.all(inFlight.map((requestId) => cancelRequest(deps, userId, requestId)));
    res.status(204).end();
  });

  return router;
}

/** Signals a request's workflow to stop; one that has already finished is left alone. */
async function cancelRequest(deps: ApiDeps, userId: string, requestId: string): Promise<void> {
  try {
    await deps.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).signal(cancelSignal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return;
    deps.logger.warn('could not cancel a request of a deleted session', { err, requestId });
  }
}
