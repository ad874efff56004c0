/**
 * The Lua scripts behind users/cache.ts. Each touches only keys of one entity, which
 * share a hash tag, so they run on Redis Cluster too. A missing generation counts as
 * `"0"`.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script and its SHA-1 (for EVALSHA). */
export interface LuaScript {
  source: string;
  sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * KEYS: value, lock, generation. ARGV: lock token, lock TTL (ms).
 * Returns `{1, value}` when cached, `{2, generation}` when the lock was taken,
 * `{0, generation}` when another loader holds it.
 */
export const TRY_LOCK = script(`
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
local g = redis.call('GET', KEYS[3]) or '0'
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2, g} end
return {0, g}
`);

/**
 * KEYS: value, generation, lock. ARGV: expected generation ('' = write nothing),
 * JSON value, TTL (ms), lock token ('' = none).
 * Writes only when the generation is unchanged; releases the lock if the token holds
 * it. Returns 1 when written.
 */
export const WRITE_IF_GENERATION = script(`
local written = 0
if ARGV[1] ~= '' and (redis.call('GET', KEYS[2]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  written = 1
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return written
`);

/**
 * KEYS: generation, then the keys to drop (views and their locks). ARGV: generation TTL (ms).
 * Bumps the generation first, so no write that began before can land afterwards.
 */
export const INVALIDATE = script(`
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`);

/** Runs a script by SHA, sending its source only when Redis does not know it yet. */
export async function evalScript(
  redis: Redis,
  lua: LuaScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  try {
    return await redis.evalsha(lua.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(lua.source, keys.length, ...keys, ...args);
  }
}
