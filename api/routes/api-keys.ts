/** `/v1/me/api-keys`: the caller's API keys (docs/API.md "API keys"). */
import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import { ERRORS } from '../../contracts/errors';
import { MAX_KEY_NAME_CHARS, TooManyKeysError } from '../../users/api-keys';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';
import { isUuid, storable } from '../frames';

// Control characters (C0, DEL, C1) and the line/paragraph separators.
const CONTROL_CHARS = /[\p{Cc}\p{Zl}\p{Zp}]/u;

const createBody = z.object({
  name: storable(z.string())
    .trim()
    .max(MAX_KEY_NAME_CHARS)
    .refine((s) => !CONTROL_CHARS.test(s), 'must not contain control characters')
    .optional(),
});

function callerOf(req: Request): string {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user.userId;
}

/**
 * - `POST /me/api-keys` `{name?}` (at most 100 characters, no control characters):
 *   201 `{keyId, name, key, prefix, createdAt}`. The key is in this answer only.
 *   A user with 20 live keys gets 400 `bad_request` (revoke one first).
 * - `GET /me/api-keys`: 200 `{keys:[{keyId, name, prefix, createdAt, lastUsedAt}]}`,
 *   live keys only, oldest first.
 * - `DELETE /me/api-keys/:keyId`: 204; another user's key, a revoked or an unknown one:
 *   404. Every API process refuses the key within a second (users/api-keys.ts).
 */
export function apiKeyRoutes(deps: ApiDeps): Router {
  const router = express.Router();

  router.post('/me/api-keys', async (req, res) => {
    const userId = callerOf(req);
    const body: unknown = req.body ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new AppError(ERRORS.BadRequest, 'body must be a JSON object');
    }
    const parsed = createBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new AppError(ERRORS.BadRequest, `${where}${issue?.message ?? 'invalid body'}`);
    }
    try {
      const created = await deps.apiKeys.create(userId, parsed.data.name ?? '');
      res.status(201).json({
        keyId: created.keyId,
        name: created.name,
        key: created.key,
        prefix: created.prefix,
        createdAt: created.createdAt,
      });
    } catch (err) {
      if (err instanceof TooManyKeysError) throw new AppError(ERRORS.BadRequest, err.message);
      throw err;
    }
  });

  router.get('/me/api-keys', async (req, res) => {
    res.json({ keys: await deps.apiKeys.list(callerOf(req)) });
  });

  router.delete('/me/api-keys/:keyId', async (req, res) => {
    const userId = callerOf(req);
    const keyId = String(req.params.keyId).toLowerCase();
    if (!isUuid(keyId) || !(await deps.apiKeys.revoke(userId, keyId))) {
      throw new AppError(ERRORS.NotFound, 'API key not found');
    }
    res.status(204).end();
  });

  return router;
}
