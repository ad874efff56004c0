/**
 * A cache-aside helper over Redis for per-entity views (e.g. one user's context,
 * analytics, preferences), with the safety the P1 profile cache needs:
 *
 * - JSON values, TTL with jitter (so entries filled together do not expire together),
 *   negative entries (`null`) with a short TTL for entities that do not exist.
 * - Race-safe invalidation: every entity has a generation counter. A reader notes the
 *   generation before it reads the database and writes its value back only if the
 *   generation is unchanged (checked atomically in a Lua script). An invalidation bumps
 *   the generation after the database commit, so a read that saw the old row can never
 *   put it back after the invalidation.
 * - Stampede protection: concurrent misses in one process share one load
 *   (single-flight); across processes a short Redis lock lets one process load while the
 *   others poll the cache briefly, then fall back to the database if the holder is slow.
 * - Redis down or slow never fails a read: the value comes from the loader and counts as
 *   a miss; after a failure Redis is skipped for a moment (so a hung Redis costs one
 *   timeout, not one per read), then used again. Failed invalidations are retried.
 *
 * All keys of an entity share one hash tag (`{u:<id>}`), so they live in one Redis
 * Cluster slot and one Lua script may touch them together. Give it a fail-fast client
 * (store/redis.ts `createCacheRedis`), not the shared one that queues and retries.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../lib/logger';
import { cacheHitsTotal } from '../lib/metrics';
import { RetryQueue } from './cache-retry';
import { evalScript, INVALIDATE, TRY_LOCK, WRITE_IF_GENERATION } from './cache-scripts';

/** Tunables; the defaults suit the user profile cache (docs/SPEC.md "P1"). */
export interface CacheSettings {
  ttlMs: number;
  /** Entries live between `ttlMs * (1 - jitter)` and `ttlMs`. */
  jitter: number;
  /** TTL of a negative entry (the loader found nothing). */
  negativeTtlMs: number;
  /** How long a loader holds the cross-process lock at most. */
  lockTtlMs: number;
  /** How long a process waits for another's load before loading itself. */
  lockWaitMs: number;
  pollMs: number;
  /** After a Redis failure, Redis is skipped for this long. */
  bypassMs: number;
  /** Lifetime of a generation counter; must outlive any read in flight. */
  generationTtlMs: number;
  /** Interval between retries of invalidations that failed. */
  retryMs: number;
}

export const DEFAULT_CACHE_SETTINGS: Readonly<CacheSettings> = Object.freeze({
  ttlMs: 30 * 60_000,
  jitter: 0.1,
  negativeTtlMs: 30_000,
  lockTtlMs: 5_000,
  lockWaitMs: 250,
  pollMs: 10,
  bypassMs: 1_000,
  generationTtlMs: 2 * 3600_000,
  retryMs: 1_000,
});

/** Test seams: called between the database read and the cache write. */
export interface CacheHooks {
  afterLoad?(entity: string, view: string): Promise<void> | void;
}

/** Counters of one cache instance (the bench and tests read them). */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Loader calls (database reads). */
  loads: number;
  /** Writes refused because an invalidation came after the read began. */
  staleWritesRefused: number;
  redisErrors: number;
  invalidations: number;
}

/** Failed invalidations kept for retry; past this, the oldest are given up (logged). */
const MAX_PENDING_INVALIDATIONS = 10_000;

export interface VersionedCacheOptions {
  /** The `cache_type` label is `<name>_<view>`; also the default key prefix. */
  name: string;
  /** Key prefix (default `name`); tests and benchmarks isolate themselves with it. */
  keyPrefix?: string;
  settings?: Partial<CacheSettings>;
  hooks?: CacheHooks;
  logger?: Logger;
}

type LockOutcome = { kind: 'hit'; raw: string } | { kind: 'locked' | 'held'; generation: string };

/** Versioned cache-aside over views of entities; see the module comment. */
export class VersionedCache {
  readonly settings: Readonly<CacheSettings>;
  readonly stats: CacheStats = {
    hits: 0,
    misses: 0,
    loads: 0,
    staleWritesRefused: 0,
    redisErrors: 0,
    invalidations: 0,
  };
  private readonly flights = new Map<string, Promise<unknown>>();
  private readonly pending: RetryQueue<readonly string[]>;
  private bypassUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: VersionedCacheOptions,
  ) {
    this.settings = Object.freeze({ ...DEFAULT_CACHE_SETTINGS, ...options.settings });
    this.pending = new RetryQueue(
      (entity, views) => this.runInvalidate(entity, views),
      () => this.redis.status === 'ready',
      {
        intervalMs: this.settings.retryMs,
        maxEntries: MAX_PENDING_INVALIDATIONS,
        logger: options.logger,
      },
    );
  }

  /** The Redis key of one view of an entity, e.g. `user:{u:42}:context`. */
  key(entity: string, view: string): string {
    return `${this.options.keyPrefix ?? this.options.name}:{${entity}}:${view}`;
  }

  /**
   * The view from the cache, or from `load` on a miss (then cached). `undefined` from
   * `load` means "does not exist" and is cached briefly too.
   */
  async get<T>(
    entity: string,
    view: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const key = this.key(entity, view);
    let generation: string | undefined;
    // While this entity's invalidation waits for Redis, its entries may be stale: skip them.
    if (this.usable() && !this.pending.has(entity)) {
      let raw: string | null | undefined;
      try {
        const [value, gen] = await this.redis.mget(key, this.key(entity, 'gen'));
        raw = value;
        generation = gen ?? '0';
      } catch (err) {
        this.failed(err);
      }
      const cached = raw === null || raw === undefined ? MISSING : decode<T>(raw);
      if (cached !== MISSING) {
        this.count(view, true);
        return cached;
      }
    }
    this.count(view, false);
    // Joining only a flight that began at the same generation: a load that began before
    // an invalidation must not answer a read that came after it.
    const flightKey = `${key}#${generation ?? 'nocache'}`;
    const existing = this.flights.get(flightKey);
    if (existing) return existing as Promise<T | undefined>;
    const flight = (
      generation === undefined ? this.loadNow(load) : this.fill(entity, view, generation, load)
    ).finally(() => {
      if (this.flights.get(flightKey) === flight) this.flights.delete(flightKey);
    });
    this.flights.set(flightKey, flight);
    return flight;
  }

  /**
   * Drops every listed view of an entity and bumps its generation, so reads already in
   * flight cannot write old values back. Call it after the database commit. Never
   * throws: when Redis is unreachable the invalidation is retried in the background
   * (and false is returned).
   */
  async invalidate(entity: string, views: readonly string[]): Promise<boolean> {
    this.stats.invalidations++;
    const prefix = this.key(entity, '');
    for (const flightKey of this.flights.keys()) {
      if (flightKey.startsWith(prefix)) this.flights.delete(flightKey);
    }
    try {
      await this.runInvalidate(entity, views);
      this.pending.delete(entity);
      return true;
    } catch (err) {
      this.failed(err);
      this.pending.add(entity, views);
      return false;
    }
  }

  /** Stops the background retry timer. */
  close(): void {
    this.pending.close();
  }

  /** Invalidations waiting for Redis to come back. */
  get pendingInvalidations(): number {
    return this.pending.size;
  }

  private async fill<T>(
    entity: string,
    view: string,
    generation: string,
    load: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const token = randomUUID();
    const deadline = Date.now() + this.settings.lockWaitMs;
    let gen = generation;
    let holder = false;
    try {
      for (;;) {
        const outcome = await this.tryLock(entity, view, token);
        if (outcome.kind === 'hit') {
          const cached = decode<T>(outcome.raw);
          if (cached !== MISSING) return cached;
          break; // unreadable entry: load and overwrite it
        }
        // The generation seen last before the database read is the one to write under.
        gen = outcome.generation;
        if (outcome.kind === 'locked') {
          holder = true;
          break;
        }
        if (Date.now() >= deadline) break; // the holder is slow: load ourselves
        await sleep(this.settings.pollMs);
      }
    } catch (err) {
      this.failed(err);
      return this.loadNow(load);
    }
    let value: T | undefined;
    try {
      value = await this.loadNow(load);
    } catch (err) {
      if (holder) await this.write(entity, view, '', undefined, token);
      throw err;
    }
    await this.options.hooks?.afterLoad?.(entity, view);
    await this.write(entity, view, gen, value, holder ? token : '');
    return value;
  }

  private async loadNow<T>(load: () => Promise<T | undefined>): Promise<T | undefined> {
    this.stats.loads++;
    return load();
  }

  /** One atomic step: the cached value if present, else take the lock if it is free. */
  private async tryLock(entity: string, view: string, token: string): Promise<LockOutcome> {
    const key = this.key(entity, view);
    const reply = (await evalScript(
      this.redis,
      TRY_LOCK,
      [key, `${key}:lock`, this.key(entity, 'gen')],
      [token, String(this.settings.lockTtlMs)],
    )) as [number, string];
    if (reply[0] === 1) return { kind: 'hit', raw: reply[1] };
    return { kind: reply[0] === 2 ? 'locked' : 'held', generation: reply[1] };
  }

  /**
   * Writes the value if the generation is still `generation` (an empty generation
   * writes nothing) and releases the lock if `token` holds it.
   */
  private async write(
    entity: string,
    view: string,
    generation: string,
    value: unknown,
    token: string,
  ): Promise<void> {
    const key = this.key(entity, view);
    const s = this.settings;
    const ttl =
      value === undefined ? s.negativeTtlMs : Math.round(s.ttlMs * (1 - s.jitter * Math.random()));
    try {
      const written = await evalScript(
        this.redis,
        WRITE_IF_GENERATION,
        [key, this.key(entity, 'gen'), `${key}:lock`],
        [generation, JSON.stringify(value ?? null), String(Math.max(1, ttl)), token],
      );
      if (generation !== '' && written === 0) this.stats.staleWritesRefused++;
    } catch (err) {
      this.failed(err);
    }
  }

  private async runInvalidate(entity: string, views: readonly string[]): Promise<void> {
    const keys = [this.key(entity, 'gen')];
    for (const view of views) keys.push(this.key(entity, view), `${this.key(entity, view)}:lock`);
    await evalScript(this.redis, INVALIDATE, keys, [String(this.settings.generationTtlMs)]);
  }

  private usable(): boolean {
    return this.redis.status === 'ready' && Date.now() >= this.bypassUntil;
  }

  private failed(err: unknown): void {
    this.stats.redisErrors++;
    const now = Date.now();
    if (now >= this.bypassUntil) {
      this.options.logger?.warn('cache unavailable, reading through to the database', {
        cache: this.options.name,
        err,
      });
    }
    this.bypassUntil = now + this.settings.bypassMs;
  }

  private count(view: string, hit: boolean): void {
    if (hit) this.stats.hits++;
    else this.stats.misses++;
    cacheHitsTotal.inc({ cache_type: `${this.options.name}_${view}`, hit: String(hit) });
  }
}

/** Marks "no usable entry" apart from a cached `undefined` (a negative entry). */
const MISSING: unique symbol = Symbol('missing');

/**
 * A cached JSON value; `null` is a negative entry (the entity does not exist). An
 * unreadable entry counts as missing and is overwritten by the next load.
 */
function decode<T>(raw: string): T | undefined | typeof MISSING {
  try {
    return (JSON.parse(raw) as T | null) ?? undefined;
  } catch {
    return MISSING;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
