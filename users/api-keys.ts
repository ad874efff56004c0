/**
 * API keys (docs/API.md "API keys"): long-lived bearer credentials that authenticate as
 * their user wherever a JWT does.
 *
 * - A key is `dck_` + 32 random bytes (base64url). Only its SHA-256 hash is stored: the
 *   key has 256 bits of entropy, so a fast hash is as strong as a slow one here, and the
 *   lookup is by hash (no comparison of secrets in user code).
 * - Verified keys are cached in-process for at most {@link KEY_CACHE_TTL_MS}, so a busy
 *   client costs no database read per request. A revoke publishes the key's hash on
 *   {@link REVOKED_CHANNEL}; every API process drops it from its cache at once. The TTL
 *   is the fallback when a message is lost (Redis briefly unreachable): a revoked key is
 *   refused by every process within a second either way.
 * - `last_used_at` is written on cache misses only (at most about once a second per key
 *   and process).
 * - A key never reaches a log or a metric: nothing here logs it, and the logger masks
 *   `dck_...` strings wherever they appear (lib/logger.ts).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Plan } from '../contracts/common';
import type { Logger } from '../lib/logger';

/** Every key starts with this, so it is recognisable (and maskable) in any text. */
export const API_KEY_PREFIX = 'dck_';
/** Characters of the key shown in listings (the `dck_` prefix plus 8). */
const SHOWN_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;
/** Most live (not revoked) keys a user may hold. */
export const MAX_LIVE_KEYS_PER_USER = 20;
/** Longest a verified key stays cached in one process (revocation's upper bound). */
export const KEY_CACHE_TTL_MS = 1000;
/** Redis pub/sub channel carrying the hashes of revoked keys. */
export const REVOKED_CHANNEL = 'api-keys:revoked';
/** Longest key name accepted. */
export const MAX_KEY_NAME_CHARS = 100;
const MAX_CACHED = 10_000;

/** The user a key authenticates as. */
export interface ApiKeyUser {
  userId: string;
  plan: Plan;
  name: string;
  keyId: string;
}

/** A key as listed (never the key itself). */
export interface ApiKeyInfo {
  keyId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Thrown by {@link ApiKeyStore.create} when the user already has the most live keys. */
export class TooManyKeysError extends Error {
  override name = 'TooManyKeysError';
}

/** True when a bearer token is shaped like an API key (not a JWT). */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

interface Cached {
  user: ApiKeyUser;
  expiresAt: number;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
}

const toInfo = (r: KeyRow): ApiKeyInfo => ({
  keyId: r.id,
  name: r.name,
  prefix: r.prefix,
  createdAt: r.created_at.toISOString(),
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
});

/** Creates, lists, revokes and verifies API keys; one per API process. */
export class ApiKeyStore {
  private readonly cache = new Map<string, Cached>();
  private subscribed = false;

  /**
   * @param subscriber a Redis connection this store may put in subscriber mode (it
   *   hears revocations); absent = no pub/sub, the cache TTL alone bounds revocation.
   */
  constructor(
    private readonly db: Pool,
    private readonly redis: Redis,
    private readonly logger: Logger,
    private readonly subscriber?: Redis,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts listening for revocations from other processes. */
  async start(): Promise<void> {
    if (!this.subscriber || this.subscribed) return;
    this.subscribed = true;
    this.subscriber.on('message', (channel: string, hashHex: string) => {
      if (channel === REVOKED_CHANNEL) this.cache.delete(hashHex);
    });
    // Resubscribe after a reconnect; meanwhile the TTL bounds what a lost message costs.
    this.subscriber.on('ready', () => {
      this.cache.clear();
      void this.subscriber?.subscribe(REVOKED_CHANNEL).catch(() => undefined);
    });
    await this.subscriber.subscribe(REVOKED_CHANNEL);
  }

  /** Creates a key for the user; the answer is the only place the key ever appears. */
  async create(userId: string, name: string): Promise<ApiKeyInfo & { key: string }> {
    const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
    const keyId = randomUUID();
    const prefix = key.slice(0, SHOWN_PREFIX_LENGTH);
    const client = await this.db.connect();
    try {
      await client.query('BEGIN');
      // Serialises concurrent creates of one user, so the limit holds under races.
      await client.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
      const live = await client.query<{ n: string }>(
        'SELECT count(*) AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
        [userId],
      );
      if (Number(live.rows[0]?.n ?? 0) >= MAX_LIVE_KEYS_PER_USER) {
        throw new TooManyKeysError(
          `at most ${MAX_LIVE_KEYS_PER_USER} live API keys per user; revoke one first`,
        );
      }
      const { rows } = await client.query<KeyRow>(
        `INSERT INTO api_keys (id, user_id, name, prefix, key_hash) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, prefix, created_at, last_used_at`,
        [keyId, userId, name, prefix, hashKey(key)],
      );
      await client.query('COMMIT');
      return { ...toInfo(rows[0] as KeyRow), key };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** The user's live keys, oldest first. */
  async list(userId: string): Promise<ApiKeyInfo[]> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT id, name, prefix, created_at, last_used_at FROM api_keys
        WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(toInfo);
  }

  /**
   * Revokes one of the user's live keys and tells every API process to forget it.
   * False when the user has no such live key (another user's key included).
   */
  async revoke(userId: string, keyId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ key_hash: Buffer }>(
      `UPDATE api_keys SET revoked_at = now()
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING key_hash`,
      [keyId, userId],
    );
    const hash = rows[0]?.key_hash;
    if (!hash) return false;
    const hex = hash.toString('hex');
    this.cache.delete(hex);
    await this.redis.publish(REVOKED_CHANNEL, hex).catch((err: unknown) => {
      // Other processes still drop it within the cache TTL.
      this.logger.warn('could not publish an API key revocation', { err });
    });
    return true;
  }

  /** The user a key authenticates as; undefined for an unknown or revoked key. */
  async verify(key: string): Promise<ApiKeyUser | undefined> {
    if (!looksLikeApiKey(key)) return undefined;
    const hash = hashKey(key);
    const hex = hash.toString('hex');
    const now = this.now();
    const hit = this.cache.get(hex);
    if (hit && hit.expiresAt > now) return hit.user;
    this.cache.delete(hex);
    const { rows } = await this.db.query<{
      id: string;
      user_id: string;
      plan: Plan;
      username: string;
    }>(
      `UPDATE api_keys k SET last_used_at = now() FROM users u
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.id = k.user_id
        RETURNING k.id, k.user_id, u.plan, u.username`,
      [hash],
    );
    const row = rows[0];
    if (!row) return undefined;
    const user: ApiKeyUser = {
      userId: row.user_id,
      plan: row.plan === 'pro' ? 'pro' : 'free',
      name: row.username,
      keyId: row.id,
    };
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(hex, { user, expiresAt: now + KEY_CACHE_TTL_MS });
    return user;
  }

  /** Stops listening (the caller owns the connections). */
  async close(): Promise<void> {
    if (this.subscriber && this.subscribed) {
      await this.subscriber.unsubscribe(REVOKED_CHANNEL).catch(() => undefined);
    }
    this.cache.clear();
  }
}
