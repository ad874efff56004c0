/**
 * Bearer-token authentication: HS256 JWTs (docs/API.md "Authentication") and API keys
 * (docs/API.md "API keys", users/api-keys.ts), accepted alike wherever a token is.
 */
import type { IncomingMessage } from 'node:http';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import type { Plan } from '../contracts/common';
import { looksLikeApiKey, type ApiKeyStore } from '../users/api-keys';
import { storable, uuid } from './frames';

/** Longest `name` claim accepted (it becomes the user's stored username). */
export const MAX_NAME_CLAIM_CHARS = 200;

/**
 * The claims a token may carry (docs/API.md "Authentication"). A correctly signed token
 * whose claims break this (a `name` Postgres cannot store, a wrong type, an unknown
 * plan) is refused like a forged one: nothing of it reaches the database.
 */
const claimsSchema = z.object({
  sub: uuid,
  plan: z.enum(['free', 'pro']).optional(),
  name: storable(z.string().max(MAX_NAME_CLAIM_CHARS)).optional(),
});

export interface AuthUser {
  userId: string;
  plan: Plan;
  name?: string;
  /** Set when the caller authenticated with an API key (its id, never the key). */
  apiKeyId?: string;
}

/**
 * The user a bearer token authenticates: an API key (`dck_...`) is looked up, anything
 * else is verified as a JWT. Undefined when missing, unknown, revoked, invalid or expired.
 */
export async function authenticate(
  secret: string,
  apiKeys: ApiKeyStore,
  token: string | undefined,
): Promise<AuthUser | undefined> {
  if (!token) return undefined;
  if (!looksLikeApiKey(token)) return verifyToken(secret, token);
  const user = await apiKeys.verify(token);
  return user && { userId: user.userId, plan: user.plan, name: user.name, apiKeyId: user.keyId };
}

/** Verifies a token; undefined when missing, invalid, expired or with bad claims. */
export function verifyToken(secret: string, token: string | undefined): AuthUser | undefined {
  if (!token) return undefined;
  let payload: unknown;
  try {
    payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch {
    return undefined;
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) return undefined;
  const { sub, plan = 'free', name } = claims.data;
  return { userId: sub.toLowerCase(), plan, ...(name !== undefined ? { name } : {}) };
}

/** The bearer token of a request: `Authorization: Bearer ...`, or `?token=` (WebSocket). */
export function tokenOf(req: IncomingMessage, allowQuery: boolean): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  if (allowQuery && req.url) {
    const token = new URL(req.url, 'http://localhost').searchParams.get('token');
    if (token) return token;
  }
  return undefined;
}

/** Signs a token (dev token, tests). */
export function signToken(
  secret: string,
  user: { userId: string; plan?: Plan; name?: string },
  expiresInSeconds = 3600,
): string {
  return jwt.sign({ sub: user.userId, plan: user.plan ?? 'free', name: user.name }, secret, {
    algorithm: 'HS256',
    expiresIn: expiresInSeconds,
  });
}
