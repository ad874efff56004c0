/**
 * The OpenAI-compatible door (docs/API.md "OpenAI-compatible API"):
 * `POST /v1/chat/completions` and `GET /v1/models`.
 *
 * A completion is one chat request: it starts the same `chatWorkflow` as a WebSocket
 * `chat` frame (api/chat.ts `startChat`: rate limit, idempotent start), with the
 * client's messages, tools and sampling parameters in its input, and the answer is
 * rendered from the request's event log (api/openai/render.ts), streamed or whole.
 *
 * - `Idempotency-Key` (1-255 printable ASCII characters) maps to the request id
 *   (a UUID from SHA-256 of user and key), so the same key from the same user finds the
 *   same workflow: it never runs or bills twice, and answers the same completion.
 * - A streamed answer holds its headers until the LLM is being called, so a refusal
 *   (quota, unknown session, context too large) is an HTTP error with its status, as
 *   OpenAI answers it, not an error inside a 200 stream.
 */
import { createHash, randomUUID } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { RequestEvent } from '../../contracts/protocol';
import { ERRORS, errorSpecForCode } from '../../contracts/errors';
import { decodeEntry, requestKeys, seqOfStreamId } from '../../store/event-log';
import type { AuthUser } from '../auth';
import { startChat } from '../chat';
import { chatRateLimiter } from '../rate-limit';
import type { ApiDeps } from '../deps';
import { AppError, sendError } from '../errors';
import { isUuid } from '../frames';
import { openAiModel } from '../models';
import { listedModels } from '../../models/catalog';
import type { EventHandler } from '../relay';
import { watchRequestEnd } from '../request-end';
import { parseCompletionRequest } from './request';
import { openEventStream } from './sse';
import {
  ChunkRenderer,
  completionObject,
  isAfter,
  parseSseId,
  type CompletionMeta,
  type SseEvent,
  type SsePosition,
  type Usage,
} from './render';

const PRINTABLE = /^[\x20-\x7e]{1,255}$/;

/**
 * The request id an `Idempotency-Key` maps to: a UUID (version 8) from SHA-256. Each door
 * has its own ids (`door`), so the same key sent to two doors names two requests.
 */
export function requestIdForKey(
  userId: string,
  key: string,
  door: 'openai' | 'responses' = 'openai',
): string {
  const b = createHash('sha256')
    .update(`${door}-idempotency\n${userId}\n${key}`)
    .digest()
    .subarray(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x80;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Seconds until the next 00:00 UTC, when daily quotas reset (`Retry-After` of a refusal). */
function secondsToUtcMidnight(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/** The HTTP error of a request that ended with an `error` event before any output. */
export function errorOfEvent(event: Extract<RequestEvent, { type: 'error' }>): AppError {
  const spec = errorSpecForCode(event.code);
  const retryAfter = spec === ERRORS.QuotaExceeded ? secondsToUtcMidnight() : undefined;
  return new AppError(spec, event.message, retryAfter);
}

/** The request's `Idempotency-Key` (1-255 printable ASCII characters), if it has one. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key !== undefined && !PRINTABLE.test(key)) {
    throw new AppError(
      ERRORS.BadRequest,
      'Idempotency-Key must be 1-255 printable ASCII characters',
      undefined,
      'Idempotency-Key',
    );
  }
  return key;
}

function userOf(req: Request): AuthUser {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user;
}

/** Completion meta shared by every answer of one request (first writer wins). */
async function completionMeta(
  deps: ApiDeps,
  userId: string,
  requestId: string,
  model: string,
  includeUsage: boolean,
): Promise<CompletionMeta> {
  const key = `${requestKeys(userId, requestId).stream}:openai-meta`;
  const fresh = JSON.stringify({ created: Math.floor(Date.now() / 1000), model });
  await deps.redis.set(key, fresh, 'EX', deps.config.eventTtlSeconds, 'NX');
  const stored = JSON.parse((await deps.redis.get(key)) ?? fresh) as {
    created: number;
    model: string;
  };
  return {
    id: `chatcmpl-${requestId}`,
    created: stored.created,
    model: stored.model,
    includeUsage,
  };
}

function writeSse(res: Response, e: SseEvent): void {
  res.write(
    `id: ${e.id}\ndata: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`,
  );
}

/** Builds the router; mount it on `/v1` with the auth middleware before it. */
export function openAiRoutes(deps: ApiDeps): Router {
  const router = express.Router();

  router.get('/models', (_req, res) => {
    const ids = listedModels(deps.config.models, [deps.config.summaryLlm.model]);
    res.json({
      object: 'list',
      data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'durable-chat' })),
    });
  });

  router.post('/chat/completions', async (req, res) => {
    const user = userOf(req);
    const parsed = parseCompletionRequest(req.body);
    const model = openAiModel(deps.config, parsed.model);
    const idempotencyKey = idempotencyKeyOf(req);
    const lastEventIdHeader = req.get('last-event-id');
    let after: SsePosition | undefined;
    if (lastEventIdHeader !== undefined) {
      if (idempotencyKey === undefined) {
        throw new AppError(
          ERRORS.BadRequest,
          'Last-Event-ID needs the Idempotency-Key of the stream',
          undefined,
          'Last-Event-ID',
        );
      }
      after = parseSseId(lastEventIdHeader);
      if (!after)
        throw new AppError(
          ERRORS.BadRequest,
          'Last-Event-ID is not an event id of this API',
          undefined,
          'Last-Event-ID',
        );
    }
    const sessionHeader = req.get('x-session-id');
    const sessionId = sessionHeader?.trim().toLowerCase();
    if (sessionId !== undefined && !isUuid(sessionId))
      throw new AppError(ERRORS.NotFound, 'session not found');

    const requestId =
      idempotencyKey !== undefined ? requestIdForKey(user.userId, idempotencyKey) : randomUUID();
    const start = (model: string) =>
      startChat(deps, user, {
        requestId,
        sessionId: sessionId ?? '',
        content: parsed.lastUserText,
        model,
        method: 'openai',
        completion: { ...parsed.completion, stateless: sessionId === undefined },
      });
    // The rate limit comes before this request writes anything (its meta key below).
    // Refused: startChat refuses it again, unless it replays a started request (never
    // limited). Allowed: startChat's own take finds it counted already.
    const limiter = chatRateLimiter(deps.redis);
    const rate = await limiter.take(user.userId, requestId, deps.config.rateLimitPerMinute);
    if (!rate.allowed) await start(model);
    const meta = await completionMeta(
      deps,
      user.userId,
      requestId,
      model,
      parsed.includeUsage,
    );
    if (rate.allowed) {
      const { duplicate } = await start(meta.model);
      if (duplicate && rate.counted) await limiter.refund(user.userId, requestId);
    }
    const followed = {
      userId: user.userId,
      requestId,
      stream: requestKeys(user.userId, requestId).stream,
    };
    if (parsed.stream) await streamAnswer(deps, req, res, followed, meta, after);
    else await wholeAnswer(deps, req, res, followed, meta);
  });

  return router;
}

/** The request an answer follows: its Redis stream, and who and what it is. */
export interface Followed {
  userId: string;
  requestId: string;
  stream: string;
}

/**
 * Subscribes to the request's events from the start, and makes sure they end even if
 * Redis no longer has them (api/request-end.ts). The returned function stops both.
 */
export function follow(deps: ApiDeps, f: Followed, handler: EventHandler): () => void {
  let lastEventAt = Date.now();
  const unsubscribe = deps.relay.subscribe(f.stream, 0, (event, seq) => {
    lastEventAt = Date.now();
    handler(event, seq);
  });
  const unwatch = watchRequestEnd(deps, f.userId, f.requestId, () => lastEventAt);
  return () => {
    unsubscribe();
    unwatch();
  };
}

/** Waits for the request's end and answers one `chat.completion` (or its error). */
function wholeAnswer(
  deps: ApiDeps,
  req: Request,
  res: Response,
  followed: Followed,
  meta: CompletionMeta,
): Promise<void> {
  return new Promise((resolve) => {
    let usage: Usage | undefined;
    const stop = follow(deps, followed, (event) => {
      if (event.type === 'usage') usage = event;
      if (event.type === 'done') res.json(completionObject(meta, event, usage));
      else if (event.type === 'error') sendError(res, errorOfEvent(event));
      else return;
      stop();
      resolve();
    });
    res.on('close', () => {
      stop();
      resolve();
    });
    req.on('aborted', () => stop());
  });
}

/**
 * Streams the request's rendering after `after`. Without `Last-Event-ID`, a log whose
 * rendering is already broken by a retry (see render.ts) is answered with the final
 * rendering once the request is done.
 */
async function streamAnswer(
  deps: ApiDeps,
  req: Request,
  res: Response,
  followed: Followed,
  meta: CompletionMeta,
  after: SsePosition | undefined,
): Promise<void> {
  let final = after?.final === true;
  if (!after) {
    const probe = new ChunkRenderer(meta);
    for (const [id, fields] of await deps.redis.xrange(followed.stream, '-', '+')) {
      const event = decodeEntry(fields);
      if (event) probe.push(event, seqOfStreamId(id));
    }
    final = probe.broken;
  }
  const renderer = new ChunkRenderer(meta);
  let started = false;
  let usage: Usage | undefined;
  let keepalive: NodeJS.Timeout | undefined;

  const begin = () => {
    if (started) return;
    started = true;
    keepalive = openEventStream(res);
  };

  await new Promise<void>((resolve) => {
    const finish = () => {
      clearInterval(keepalive);
      stop();
      if (!res.writableEnded) res.end();
      resolve();
    };
    const stop = follow(deps, followed, (event, seq) => {
      if (event.type === 'usage') usage = event;
      if (event.type === 'error' && !started) {
        sendError(res, errorOfEvent(event));
        return finish();
      }
      if (final) {
        if (event.type !== 'done' && event.type !== 'error') return;
        begin();
        const parts =
          event.type === 'done' ? renderer.finalRendering(event, usage) : renderer.push(event, seq);
        for (const e of parts) if (isAfter(e.id, after)) writeSse(res, e);
        return finish();
      }
      const parts = renderer.push(event, seq);
      const decisive =
        parts.length > 0 ||
        event.type === 'restart' ||
        event.type === 'delta' ||
        event.type === 'done';
      if (decisive) begin();
      for (const e of parts) if (isAfter(e.id, after)) writeSse(res, e);
      if (renderer.ended) finish();
    });
    res.on('close', finish);
  });
}
