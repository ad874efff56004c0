/**
 * The user profile cache (docs/SPEC.md "P1") on real Postgres and Redis: cache-aside with
 * TTL, invalidation of every view, the stale write-back race, stampede protection,
 * negative caching, and Redis outages (on a throwaway redis-server of our own).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { loadConfig } from '../../lib/config';
import { createPool } from '../../store/db';
import { migrate } from '../../store/migrate';
import { createCacheRedis, createRedis } from '../../store/redis';
import { UserService, USER_CACHE_VIEWS, type UserServiceOptions } from '../../users/user-service';
import { ensureUser } from '../../users/users';
import { freePort } from '../../testkit/free-port';
import { eventually } from '../../testkit/poll';

const { databaseUrl: DATABASE_URL, redisUrl: REDIS_URL } = loadConfig();

let db: Pool;
let admin: Redis;
const owned: Array<{ service: UserService; redis: Redis }> = [];
const prefixes = new Set<string>();

before(async () => {
  await migrate(DATABASE_URL);
  db = createPool(DATABASE_URL);
  admin = createRedis(REDIS_URL, 'user-cache-test');
});

after(async () => {
  for (const o of owned) {
    o.service.close();
    o.redis.disconnect();
  }
  for (const prefix of prefixes) {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.unlink(...keys);
    } while (cursor !== '0');
  }
  admin?.disconnect();
  await db?.end();
});

/** A pool whose `query` calls are counted (the service's database reads). */
function countingPool(): { pool: Pool; count: () => number } {
  let n = 0;
  const pool = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          n++;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { pool, count: () => n };
}

/** A service over its own cache client; keys isolated by a unique prefix unless given one. */
async function service(
  options: UserServiceOptions & { pool?: Pool; redisUrl?: string; commandTimeoutMs?: number } = {},
): Promise<UserService> {
  const redis = createCacheRedis(
    options.redisUrl ?? REDIS_URL,
    'user-cache-test',
    options.commandTimeoutMs ?? 2_000,
  );
  const svc = new UserService(options.pool ?? db, redis, {
    keyPrefix: `t-${randomUUID().slice(0, 8)}`,
    ...options,
  });
  prefixes.add(svc.cacheKey('x', 'context').split(':{')[0]!);
  owned.push({ service: svc, redis });
  if (redis.status !== 'ready') await once(redis, 'ready');
  return svc;
}

async function newUser(name = 'tester'): Promise<string> {
  const id = randomUUID();
  await ensureUser(db, { id, username: name, plan: 'free' });
  return id;
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('cache-aside', () => {
  it('serves the second read from Redis as JSON, with a 30-minute jittered TTL', async () => {
    const { pool, count } = countingPool();
    const svc = await service({ pool });
    const userId = await newUser('alice');
    const first = await svc.getContext(userId);
    assert.equal(first?.nickname, 'alice');
    assert.equal(count(), 1);
    assert.deepEqual(await svc.getContext(userId), first);
    assert.equal(count(), 1, 'the second read is a hit');
    assert.deepEqual({ hits: svc.stats.hits, misses: svc.stats.misses }, { hits: 1, misses: 1 });
    const key = svc.cacheKey(userId, 'context');
    assert.match(key, new RegExp(`\\{u:${userId}\\}:context$`), 'keys carry the user hash tag');
    assert.deepEqual(JSON.parse((await admin.get(key))!), first, 'stored as plain JSON');
    const ttl = await admin.pttl(key);
    assert.ok(ttl > 27 * 60_000 && ttl <= 30 * 60_000, `TTL ${ttl} ms`);
  });

  it('misses again once the TTL has passed', async () => {
    const { pool, count } = countingPool();
    const svc = await service({ pool, cache: { ttlMs: 300, jitter: 0 } });
    const userId = await newUser();
    await svc.getContext(userId);
    await svc.getContext(userId);
    assert.equal(count(), 1);
    await sleep(450); // a TTL wait: the entry's 300 ms TTL has passed
    assert.equal(await admin.exists(svc.cacheKey(userId, 'context')), 0);
    await svc.getContext(userId);
    assert.equal(count(), 2, 'expired entry reloaded from Postgres');
  });

  it('caches the analytics summary and the preferences as their own views', async () => {
    const { pool, count } = countingPool();
    const svc = await service({ pool });
    const userId = await newUser();
    await svc.updateProfile(userId, { flameLevel: 3, activeSlots: ['noon'] });
    const before = count();
    const analytics = await svc.getAnalyticsSummary(userId);
    assert.deepEqual(analytics, {
      userId,
      flameLevel: 3,
      flameBrightness: 0,
      engagementLevel: 'high',
      isPro: true,
    });
    const prefs = await svc.getPreferences(userId);
    assert.equal(prefs?.dailyCap, 5);
    assert.deepEqual(prefs?.activeSlots, ['noon']);
    assert.deepEqual(await svc.getAnalyticsSummary(userId), analytics);
    assert.deepEqual(await svc.getPreferences(userId), prefs);
    assert.equal(count() - before, 2, 'one query per view, then hits');
  });

  it('replaces an unreadable entry instead of failing', async () => {
    const svc = await service();
    const userId = await newUser('sturdy');
    await admin.set(svc.cacheKey(userId, 'context'), '{not json', 'PX', 60_000);
    assert.equal((await svc.getContext(userId))?.nickname, 'sturdy');
    assert.equal(
      JSON.parse((await admin.get(svc.cacheKey(userId, 'context')))!).nickname,
      'sturdy',
    );
  });

  it('caches unknown users briefly (negative entry), cleared when the user is created', async () => {
    const { pool, count } = countingPool();
    const svc = await service({ pool, cache: { negativeTtlMs: 5_000 } });
    const userId = randomUUID();
    assert.equal(await svc.getContext(userId), undefined);
    assert.equal(await svc.getContext(userId), undefined);
    assert.equal(count(), 1, 'the second lookup of an unknown user is a hit');
    const key = svc.cacheKey(userId, 'context');
    assert.equal(await admin.get(key), 'null');
    assert.ok((await admin.pttl(key)) <= 5_000);
    await svc.ensure({ id: userId, username: 'late', plan: 'pro' });
    const ctx = await svc.getContext(userId);
    assert.equal(ctx?.nickname, 'late');
    assert.equal(ctx?.plan, 'pro');
  });
});

describe('invalidation', () => {
  it('a profile update drops every view of the user (in every process) and bumps the version', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const a = await service({ keyPrefix: prefix });
    const b = await service({ keyPrefix: prefix }); // another process, same Redis
    const userId = await newUser('old');
    const other = await newUser('bystander');
    await a.getContext(userId);
    await a.getAnalyticsSummary(userId);
    await a.getPreferences(userId);
    await a.getContext(other);
    await admin.set(a.cacheKey(userId, 'stats'), '{"messages":1}');
    for (const view of USER_CACHE_VIEWS)
      assert.equal(await admin.exists(a.cacheKey(userId, view)), 1, view);
    const version = (await db.query('SELECT version FROM users WHERE id = $1', [userId])).rows[0]
      .version;

    const updated = await b.updateProfile(userId, { nickname: 'new', flameLevel: 5, dailyCap: 9 });
    assert.equal(updated?.nickname, 'new');
    for (const view of USER_CACHE_VIEWS)
      assert.equal(await admin.exists(a.cacheKey(userId, view)), 0, view);
    assert.equal(await admin.exists(a.cacheKey(other, 'context')), 1, "another user's entry stays");
    const after = (await db.query('SELECT version FROM users WHERE id = $1', [userId])).rows[0]
      .version;
    assert.equal(Number(after), Number(version) + 1);

    assert.equal((await a.getContext(userId))?.nickname, 'new');
    assert.equal((await a.getAnalyticsSummary(userId))?.engagementLevel, 'very_high');
    assert.equal((await a.getPreferences(userId))?.dailyCap, 9);
    assert.equal((await a.getContext(other))?.nickname, 'bystander');
  });

  it('a read that loaded the old row before the update never writes it back', async () => {
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    const paused = gate();
    const loaded = gate();
    let pauseNext = true;
    const reader = await service({
      keyPrefix: prefix,
      hooks: {
        async afterLoad() {
          if (!pauseNext) return;
          pauseNext = false;
          loaded.open();
          await paused.wait; // the old row is in hand; the update commits meanwhile
        },
      },
    });
    const writer = await service({ keyPrefix: prefix });
    const userId = await newUser('before');

    const slowRead = reader.getContext(userId);
    await loaded.wait;
    await writer.updateProfile(userId, { nickname: 'after' });
    // The same process reads after the update: it must not join the read in flight.
    assert.equal((await reader.getContext(userId))?.nickname, 'after');
    paused.open();
    assert.equal((await slowRead)?.nickname, 'before', 'the slow read answers what it read');
    assert.equal(reader.stats.staleWritesRefused, 1, 'its write-back was refused');
    assert.equal((await writer.getContext(userId))?.nickname, 'after');
    assert.equal((await reader.getContext(userId))?.nickname, 'after');
    const cached = await admin.get(reader.cacheKey(userId, 'context'));
    assert.equal(JSON.parse(cached!).nickname, 'after');
  });
});

describe('stampede protection', () => {
  it('100 concurrent misses across two processes cost one database query', async () => {
    const { pool, count } = countingPool();
    const prefix = `t-${randomUUID().slice(0, 8)}`;
    // A slow-ish load keeps the lock held while the other process waits on it.
    const options = {
      pool,
      keyPrefix: prefix,
      cache: { lockWaitMs: 10_000 },
      hooks: { afterLoad: () => sleep(50) }, // a deliberately slow load, not a wait
    };
    const a = await service(options);
    const b = await service(options);
    const userId = await newUser('popular');
    const reads = Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).getContext(userId));
    const results = await Promise.all(reads);
    assert.equal(count(), 1);
    for (const r of results) assert.equal(r?.nickname, 'popular');
  });

  it('falls back to the database when the lock holder is too slow', async () => {
    const { pool, count } = countingPool();
    const svc = await service({ pool, cache: { lockWaitMs: 100 } });
    const userId = await newUser('patient');
    // A holder that died: the lock is taken and no value will ever come.
    await admin.set(`${svc.cacheKey(userId, 'context')}:lock`, 'gone', 'PX', 60_000);
    assert.equal((await svc.getContext(userId))?.nickname, 'patient');
    assert.equal(count(), 1);
  });
});

describe('Redis outages', () => {
  let port: number;
  let server: ChildProcess | undefined;

  async function startRedis(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    server = child;
    await eventually(
      'redis-server accepting connections',
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      { timeoutMs: 5000, everyMs: 50 },
    );
  }

  async function stopRedis(): Promise<void> {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  /** Reads until one is served from the cache. */
  function untilHit(svc: UserService, userId: string, what = 'a read served from the cache') {
    return eventually(
      what,
      async () => {
        const hits = svc.stats.hits;
        await svc.getContext(userId);
        return svc.stats.hits > hits;
      },
      10_000,
    );
  }

  before(async () => {
    port = await freePort();
    await startRedis();
  });
  after(async () => {
    if (server?.exitCode === null) server.kill('SIGCONT');
    await stopRedis();
  });

  it('serves reads from Postgres while Redis is down, and caches again once it is back', async () => {
    const { pool, count } = countingPool();
    const svc = await service({
      pool,
      redisUrl: `redis://127.0.0.1:${port}`,
      commandTimeoutMs: 100,
    });
    const userId = await newUser('steady');
    await svc.getContext(userId);
    await untilHit(svc, userId);

    await stopRedis();
    const loads = count();
    for (let i = 0; i < 3; i++) assert.equal((await svc.getContext(userId))?.nickname, 'steady');
    assert.equal(count() - loads, 3, 'each read went to Postgres');
    const updated = await svc.updateProfile(userId, { nickname: 'offline-edit' });
    assert.equal(updated?.nickname, 'offline-edit', 'updates work without Redis');
    assert.equal((await svc.getContext(userId))?.nickname, 'offline-edit');
    assert.equal(svc.pendingInvalidations, 1, 'the invalidation waits for Redis');

    await startRedis();
    await untilHit(svc, userId, 'caching resumed by itself');
    assert.equal((await svc.getContext(userId))?.nickname, 'offline-edit');
    await eventually('the deferred invalidation ran', () => svc.pendingInvalidations === 0, 5000);
  });

  it('serves reads from Postgres while Redis hangs (command timeout), then caches again', async () => {
    const svc = await service({ redisUrl: `redis://127.0.0.1:${port}`, commandTimeoutMs: 100 });
    const userId = await newUser('patient');
    await svc.getContext(userId);
    await untilHit(svc, userId);
    server!.kill('SIGSTOP');
    try {
      const loads = svc.stats.loads;
      for (let i = 0; i < 3; i++) assert.equal((await svc.getContext(userId))?.nickname, 'patient');
      assert.equal(svc.stats.loads - loads, 3, 'each read went to Postgres');
      assert.ok(svc.stats.redisErrors >= 1);
    } finally {
      server!.kill('SIGCONT');
    }
    await untilHit(svc, userId, 'caching resumed by itself');
  });
});
