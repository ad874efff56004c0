/** HTTP routes (docs/API.md "HTTP"). */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ERRORS } from '../contracts/errors';
import { jsonTooDeep, TOO_DEEP_MESSAGE } from '../lib/json-depth';
import { listMessages } from '../store/messages';
import { ownsSession } from '../store/sessions';
import type { AuthUser } from './auth';
import { authenticate, tokenOf } from './auth';
import type { ApiDeps } from './deps';
import { AppError, sendError, toAppError } from './errors';
import { isUuid } from './frames';
import { checkHealth } from './health';
import { openAiRoutes } from './openai/routes';
import { responsesRoutes } from './responses/routes';
import { apiKeyRoutes } from './routes/api-keys';
import { meRoutes } from './routes/me';
import { sessionsRouter } from './routes/sessions';
import { webAppRoutes } from './static';
import { usageRoutes } from './routes/usage';
import { tasksRouter } from './routes/tasks';

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
  }
}

const MAX_MESSAGES_LIMIT = 500;
const DEFAULT_MESSAGES_LIMIT = 50;

function userOf(req: Request): AuthUser {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user;
}

/** Builds the Express app; the caller attaches it to an HTTP server. */
export function createApp(
  deps: ApiDeps,
  metricsText: () => Promise<{ contentType: string; body: string }>,
) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', async (_req, res) => {
    const health = await checkHealth(deps);
    res.status(health.status === 'ok' ? 200 : 503).json(health);
  });

  app.get('/metrics', async (_req, res) => {
    const { contentType, body } = await metricsText();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  });

  const v1 = express.Router();
  v1.use(async (req, _res, next) => {
    const user = await authenticate(deps.config.jwtSecret, deps.apiKeys, tokenOf(req, false));
    if (!user) throw new AppError(ERRORS.Unauthorized);
    await deps.users.ensure(user);
    req.user = user;
    next();
  });
  // Bodies are read and parsed only for an authenticated caller. Completions carry
  // whole conversations: their own, larger limit (parsed bodies are not parsed again by
  // the general parser after it).
  v1.post('/chat/completions', jsonBody(deps.config.completionMaxBodyBytes));
  v1.post('/responses', jsonBody(deps.config.completionMaxBodyBytes));
  v1.use(jsonBody(deps.config.maxPayloadBytes));

  v1.post('/sessions', async (req, res) => {
    const user = userOf(req);
    const sessionId = randomUUID();
    await deps.db.query('INSERT INTO chat_sessions (id, user_id) VALUES ($1, $2)', [
      sessionId,
      user.userId,
    ]);
    res.status(201).json({ sessionId });
  });

  v1.get('/sessions/:sessionId/messages', async (req, res) => {
    const user = userOf(req);
    const sessionId = String(req.params.sessionId).toLowerCase();
    const limit = parseLimit(req.query.limit);
    if (!isUuid(sessionId) || !(await ownsSession(deps.db, user.userId, sessionId))) {
      throw new AppError(ERRORS.NotFound, 'session not found');
    }
    res.json({ messages: await listMessages(deps.db, sessionId, limit) });
  });

  v1.use(sessionsRouter(deps));
  v1.use(meRoutes(deps));
  v1.use(apiKeyRoutes(deps));
  v1.use(openAiRoutes(deps));
  v1.use(responsesRoutes(deps));
  v1.use(usageRoutes(deps));
  v1.use(tasksRouter(deps));
  app.use('/v1', v1);
  // The chat web app (docs/API.md "Web app").
  app.use(webAppRoutes().router);

  app.use((_req: Request, res: Response) => {
    sendError(res, new AppError(ERRORS.NotFound, 'no such route'));
  });

  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { type, status } = (err ?? {}) as { type?: string; status?: unknown };
    if (type === 'entity.too.large') return sendError(res, new AppError(ERRORS.PayloadTooLarge));
    if (type === 'entity.parse.failed') {
      return sendError(res, new AppError(ERRORS.BadRequest, 'body is not valid JSON'));
    }
    // The client's fault, found by Express or the body parser (a path with broken
    // %-escapes, an unknown charset...): 400, never `internal`.
    if (!(err instanceof AppError) && typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, new AppError(ERRORS.BadRequest, clientErrorMessage(err)));
    }
    const appErr = toAppError(err);
    if (appErr.spec === ERRORS.Internal) deps.logger.error('http request failed', { err });
    sendError(res, appErr);
  });

  return app;
}

/** What a 4xx error of Express or the body parser says (a URIError: the path's escapes). */
function clientErrorMessage(err: unknown): string {
  if (err instanceof URIError) return 'the URL holds a malformed %-escape';
  const { expose, message } = err as { expose?: boolean; message?: string };
  return expose && message ? message : 'bad request';
}

/**
 * JSON bodies up to `limit` bytes. Their nesting is measured on the raw bytes before they
 * are parsed (lib/json-depth.ts): too deep answers 400 before any other work.
 */
function jsonBody(limit: number) {
  return express.json({
    limit,
    verify: (_req, _res, body) => {
      if (jsonTooDeep(body)) throw new AppError(ERRORS.BadRequest, TOO_DEEP_MESSAGE);
    },
  });
}

/** `?limit=N`: a whole number from 1 to 500 (default 50). */
function parseLimit(raw: unknown): number {
  if (raw === undefined) return DEFAULT_MESSAGES_LIMIT;
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isInteger(n) || n < 1 || n > MAX_MESSAGES_LIMIT) {
    throw new AppError(
      ERRORS.BadRequest,
      `limit must be a whole number from 1 to ${MAX_MESSAGES_LIMIT}`,
    );
  }
  return n;
}
