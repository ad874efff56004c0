/**
 * The Responses door (docs/API.md "Responses API"): `POST /v1/responses`, `GET
 * /v1/responses/:id` (with `stream=true&starting_after=N`: re-attach), `POST
 * /v1/responses/:id/cancel` and `DELETE /v1/responses/:id`.
 *
 * A response is one chat request, started exactly as a Chat Completion is (api/chat.ts
 * `startChat`: admission, rate limit, idempotent start of the same `chatWorkflow`), with
 * the turn, the client's function tools and the sampling parameters in its input. A
 * stored response's request runs in a session: a new chain's session is created with the
 * response (its id is the first request's), and `previous_response_id` continues the
 * previous response's session, so the history, summaries and pruning are the session's.
 * `store:false` is a stateless completion that leaves no row (it can be answered only
 * while it streams, or again through its Idempotency-Key).
 *
 * The response id is the request id in hex (store/responses.ts), so the same
 * `Idempotency-Key` from the same user names the same response: it never runs or bills
 * twice, and answers as the first create did.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Router } from 'express';
import { ERRORS } from '../../contracts/errors';
import { requestKeys } from '../../store/event-log';
import {
  requestIdOfResponse,
  responseIdOf,
  ResponseStore,
  type ResponseRow,
} from '../../store/responses';
import type { AuthUser } from '../auth';
import { cancelChat, startChat } from '../chat';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';
import { openAiModel } from '../models';
import { idempotencyKeyOf, requestIdForKey, type Followed } from '../openai/routes';
import { chatRateLimiter } from '../rate-limit';
import type { ResponseMeta } from './render';
import { parseResponseRequest, type ParsedResponseRequest } from './request';
import { currentResponse, metaOf, renderLog, responseLog, settle } from './state';
import { finalAnswer, streamResponse, writeRendering } from './stream';

/** How long a cancel waits for the request to end before it answers the response as it stands. */
const CANCEL_WAIT_MS = 10_000;

function userOf(req: Request): AuthUser {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user;
}

const notFound = (param?: string) =>
  new AppError(ERRORS.NotFound, 'response not found', undefined, param);

/** `starting_after`: a whole number from 0; absent = every event. */
function parseStartingAfter(raw: unknown): number {
  if (raw === undefined) return -1;
  const n = typeof raw === 'string' && /^-?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new AppError(
      ERRORS.BadRequest,
      'starting_after must be a whole number from 0',
      undefined,
      'starting_after',
    );
  }
  return n;
}

/** Builds the router; mount it on `/v1` with the auth middleware before it. */
export function responsesRoutes(deps: ApiDeps): Router {
  const router = express.Router();
  const store = new ResponseStore(deps.db, deps.config.responseTtlDays);

  const rowOf = async (req: Request): Promise<ResponseRow> => {
    const id = String(req.params.id);
    const row = requestIdOfResponse(id) && (await store.get(userOf(req).userId, id));
    if (!row) throw notFound();
    return row;
  };
  const followedOf = (userId: string, requestId: string): Followed => ({
    userId,
    requestId,
    stream: requestKeys(userId, requestId).stream,
  });

  router.post('/responses', async (req, res) => {
    const user = userOf(req);
    const parsed = parseResponseRequest(req.body);
    const key = idempotencyKeyOf(req);
    const requestId =
      key !== undefined ? requestIdForKey(user.userId, key, 'responses') : randomUUID();
    // An unknown model is 404 model_not_found before anything is stored (api/models.ts).
    const model = openAiModel(deps.config, parsed.model);
    let meta: ResponseMeta;
    let row: ResponseRow | undefined;
    let fresh = true;
    if (parsed.store) {
      ({ row, fresh } = await createStored(
        deps,
        store,
        user,
        requestId,
        model,
        parsed,
        key !== undefined,
      ));
      meta = metaOf(row);
    } else {
      await start(deps, user, requestId, '', model, parsed);
      meta = {
        id: responseIdOf(requestId),
        createdAt: Math.floor(Date.now() / 1000),
        model,
        background: false,
        store: false,
        previousResponseId: null,
        metadata: parsed.metadata,
      };
    }
    const followed = followedOf(user.userId, requestId);
    if (fresh && row) {
      // Retention costs no job: each new response drops its user's expired ones, off the
      // answer's path.
      store
        .purgeExpired(user.userId)
        .catch((err: unknown) => deps.logger.warn('purging expired responses failed', { err }));
    }
    const onEnd = (r: Parameters<typeof settle>[3]) => row && settle(deps, store, row, r);
    if (parsed.stream) {
      await streamResponse(deps, req, res, followed, meta, {
        after: -1,
        hold: !parsed.background,
        onEnd,
      });
    } else if (parsed.background) {
      // Just started: queued, known without reading anything (the answer stays fast).
      const renderer = fresh
        ? renderLog(meta, []).renderer
        : await currentResponse(deps, store, row as ResponseRow);
      res.json(renderer.object());
    } else {
      await finalAnswer(deps, req, res, followed, meta, onEnd);
    }
  });

  router.get('/responses/:id', async (req, res) => {
    const row = await rowOf(req);
    const streamed = req.query.stream === 'true';
    if (!streamed) return void res.json((await currentResponse(deps, store, row)).object());
    const after = parseStartingAfter(req.query.starting_after);
    const meta = metaOf(row);
    const { events, running } = await responseLog(deps, store, row);
    const { renderer, rendered } = renderLog(meta, events);
    if (after >= renderer.count) {
      throw new AppError(
        ERRORS.BadRequest,
        `starting_after ${after} is past the end: the stream has ${renderer.count} events so far (0-${renderer.count - 1})`,
        undefined,
        'starting_after',
      );
    }
    settle(deps, store, row, renderer);
    if (!running || renderer.ended) return writeRendering(res, rendered, after);
    await streamResponse(deps, req, res, followedOf(row.userId, row.requestId), meta, {
      after,
      hold: false,
      onEnd: (r) => settle(deps, store, row, r),
    });
  });

  router.post('/responses/:id/cancel', async (req, res) => {
    const row = await rowOf(req);
    let renderer = await currentResponse(deps, store, row);
    if (!renderer.final) {
      await cancelChat(deps, row.userId, row.requestId);
      const deadline = Date.now() + CANCEL_WAIT_MS;
      while (!(await deps.events.ended(row.userId, row.requestId)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      renderer = await currentResponse(deps, store, row);
    }
    res.json(renderer.object());
  });

  router.delete('/responses/:id', async (req, res) => {
    const row = await rowOf(req);
    // A response deleted while it runs stops: nobody could read what it goes on to say.
    if (!(await deps.events.ended(row.userId, row.requestId)) && row.status === null) {
      await cancelChat(deps, row.userId, row.requestId).catch((err: unknown) =>
        deps.logger.warn('cancel of a deleted response failed', { err, responseId: row.id }),
      );
    }
    if (!(await store.delete(row.userId, row.id))) throw notFound();
    res.json({ id: row.id, object: 'response.deleted', deleted: true });
  });

  return router;
}

/**
 * A stored response: its row (and a new chain's session) first, then its request. The
 * same Idempotency-Key again finds the row and starts nothing; a request refused at its
 * start (rate limit, overload) leaves no row behind.
 */
async function createStored(
  deps: ApiDeps,
  store: ResponseStore,
  user: AuthUser,
  requestId: string,
  model: string,
  parsed: ParsedResponseRequest,
  replayable: boolean,
): Promise<{ row: ResponseRow; fresh: boolean }> {
  const id = responseIdOf(requestId);
  // Only an Idempotency-Key can name a response that exists (a random id is new).
  const existing = replayable ? await store.get(user.userId, id) : undefined;
  if (existing) return { row: existing, fresh: false };
  let previous: ResponseRow | undefined;
  if (parsed.previousResponseId !== undefined) {
    previous = requestIdOfResponse(parsed.previousResponseId)
      ? await store.get(user.userId, parsed.previousResponseId)
      : undefined;
    if (!previous) throw notFound('previous_response_id');
  }
  // The rate limit comes before anything is written; startChat finds it counted already.
  const limiter = chatRateLimiter(deps.redis);
  const rate = await limiter.take(user.userId, requestId, deps.config.rateLimitPerMinute);
  if (!rate.allowed) await start(deps, user, requestId, '', model, parsed);
  const sessionId = previous?.sessionId ?? requestId;
  const { row, created } = await store.create(
    {
      id,
      userId: user.userId,
      requestId,
      sessionId,
      previousResponseId: previous?.id ?? null,
      model,
      background: parsed.background,
      metadata: parsed.metadata,
    },
    previous === undefined,
  );
  if (!created) return { row, fresh: false };
  try {
    const { duplicate } = await start(deps, user, requestId, sessionId, model, parsed);
    if (duplicate && rate.counted) await limiter.refund(user.userId, requestId);
  } catch (err) {
    await store.discard(row, previous === undefined).catch(() => undefined);
    throw err;
  }
  return { row, fresh: true };
}

/** Starts the response's chat request (the same `chatWorkflow` as every door). */
function start(
  deps: ApiDeps,
  user: AuthUser,
  requestId: string,
  sessionId: string,
  model: string,
  parsed: ParsedResponseRequest,
): Promise<{ requestId: string; duplicate: boolean }> {
  return startChat(deps, user, {
    requestId,
    sessionId,
    content: parsed.lastUserText,
    model,
    method: 'responses',
    completion: parsed.completion,
    // Its session is the chain's: found through the user's own row, or created with it.
    sessionChecked: true,
  });
}
