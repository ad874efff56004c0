/**
 * The user service (docs/SPEC.md "P1 User profile cache"): the user's context, analytics
 * summary and preferences, each cache-aside in Redis (users/cache.ts), and profile
 * updates that commit to Postgres and then invalidate every cached view of the user.
 * The API (`/v1/me`) and the chat workflow's prompt step read users through it.
 */
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { VersionedCache, type CacheHooks, type CacheSettings, type CacheStats } from './cache';
import type { Logger } from '../lib/logger';
import { timeQuery } from '../lib/metrics';
import {
  applyProfilePatch,
  loadAnalyticsSummary,
  loadPreferences,
  type AnalyticsSummary,
  type ProfilePatch,
  type UserPreferences,
} from './user-profile';
import { ensureUser, loadUserContext, type NewUser, type UserContext } from './users';

export type { AnalyticsSummary, ProfilePatch, UserPreferences } from './user-profile';

/**
 * Every cached view of a user; an update drops them all. `stats` is reserved for a
 * per-user stats view cached under the same namespace (`user:{u:<id>}:stats`).
 */
export const USER_CACHE_VIEWS = ['context', 'analytics', 'preferences', 'stats'] as const;

export interface UserServiceOptions {
  /** Cache tunables (defaults: TTL 30 min with 10% jitter, negative entries 30 s). */
  cache?: Partial<CacheSettings>;
  /** Redis key prefix (default `user`); tests and benchmarks isolate themselves with it. */
  keyPrefix?: string;
  /** Test seams (e.g. a pause between the database read and the cache write). */
  hooks?: CacheHooks;
  logger?: Logger;
}

/** The hash-tagged entity of a user: all of a user's keys share one cluster slot. */
const entityOf = (userId: string): string => `u:${userId}`;

/** Reads and updates users through the cache; one instance per process. */
export class UserService {
  private readonly cache: VersionedCache;

  /**
   * @param db the Postgres pool
   * @param redis a fail-fast client for caching (store/redis.ts `createCacheRedis`)
   */
  constructor(
    private readonly db: Pool,
    redis: Redis,
    options: UserServiceOptions = {},
  ) {
    this.cache = new VersionedCache(redis, {
      name: 'user',
      keyPrefix: options.keyPrefix,
      settings: options.cache,
      hooks: options.hooks,
      logger: options.logger,
    });
  }

  /** The user context (prompt, `GET /v1/me`); undefined for an unknown user. */
  getContext(userId: string): Promise<UserContext | undefined> {
    return this.cache.get(entityOf(userId), 'context', () =>
      timeQuery('user_context', () => loadUserContext(this.db, userId)),
    );
  }

  /** Engagement level and flame figures; undefined for an unknown user. */
  getAnalyticsSummary(userId: string): Promise<AnalyticsSummary | undefined> {
    return this.cache.get(entityOf(userId), 'analytics', () =>
      timeQuery('user_analytics', () => loadAnalyticsSummary(this.db, userId)),
    );
  }

  /** Conversation and push preferences; undefined for an unknown user. */
  getPreferences(userId: string): Promise<UserPreferences | undefined> {
    return this.cache.get(entityOf(userId), 'preferences', () =>
      timeQuery('user_preferences', () => loadPreferences(this.db, userId)),
    );
  }

  /**
   * Commits a (validated) profile change, invalidates every cached view of the user,
   * and returns the updated context read from Postgres; undefined for an unknown user.
   */
  async updateProfile(userId: string, patch: ProfilePatch): Promise<UserContext | undefined> {
    if (Object.values(patch).every((v) => v === undefined)) return this.getContext(userId);
    const found = await timeQuery('user_update', () => applyProfilePatch(this.db, userId, patch));
    if (!found) return undefined;
    await this.invalidate(userId);
    return timeQuery('user_context', () => loadUserContext(this.db, userId));
  }

  /**
   * Creates the user on first use (or records a new plan) and, when that changed the
   * row, invalidates the user's cached views (negative entries included).
   */
  async ensure(user: NewUser): Promise<void> {
    if (await timeQuery('user_ensure', () => ensureUser(this.db, user)))
      await this.invalidate(user.id);
  }

  /**
   * Drops every cached view of the user. Never throws; while Redis is unreachable the
   * invalidation is retried in the background. Returns false when it was deferred.
   */
  invalidate(userId: string): Promise<boolean> {
    return this.cache.invalidate(entityOf(userId), USER_CACHE_VIEWS);
  }

  /** The Redis key of a cached view (tests, operators). */
  cacheKey(userId: string, view: (typeof USER_CACHE_VIEWS)[number]): string {
    return this.cache.key(entityOf(userId), view);
  }

  /** Hit/miss/load counters of this instance. */
  get stats(): Readonly<CacheStats> {
    return this.cache.stats;
  }

  /** Invalidations waiting for Redis to come back. */
  get pendingInvalidations(): number {
    return this.cache.pendingInvalidations;
  }

  /** Stops background work (the invalidation retry timer). The connections are the caller's. */
  close(): void {
    this.cache.close();
  }
}
