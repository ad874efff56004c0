/**
 * The Lua scripts behind the quota counters (usage/counters.ts). Each runs
 * atomically in Redis, over keys of one user only (one hash tag, so one cluster slot).
 *
 * Counter hashes (`day`, `month`) hold `used` (settled tokens) and `h` ("hydrated":
 * seeded from the Postgres ledger). Both fields live in the same key, so whatever
 * loses one (flush, restart without persistence, eviction) loses the other: a counter
 * without `h` is never trusted for a quota decision.
 *
 * Times for reservation expiry come from Redis (`TIME`), so every process agrees.
 */

/**
 * Reserve. KEYS: day, month, reservations (zset id -> expiry ms), reserved amounts
 * (hash id -> tokens). ARGV: reservation id, amount, daily limit, monthly limit, ttl ms.
 * Returns `{verdict, dailyUsed, monthlyUsed, reserved, dayHydrated|amount, monthHydrated}`
 * with verdict `ok` | `daily` | `monthly` (refused) | `hydrate` (seed counters first).
 * Expired reservations are purged before summing. The same id again is a no-op `ok`.
 */
export const RESERVE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for i = 1, #expired do redis.call('HDEL', KEYS[4], expired[i]) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
local dh = redis.call('HGET', KEYS[1], 'h')
local mh = redis.call('HGET', KEYS[2], 'h')
if not dh or not mh then
  return {'hydrate', 0, 0, 0, dh and 1 or 0, mh and 1 or 0}
end
local daily = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
local monthly = tonumber(redis.call('HGET', KEYS[2], 'used') or '0')
local reserved = 0
local mine = nil
local all = redis.call('HGETALL', KEYS[4])
for i = 1, #all, 2 do
  reserved = reserved + tonumber(all[i + 1])
  if all[i] == ARGV[1] then mine = tonumber(all[i + 1]) end
end
if mine then return {'ok', daily, monthly, reserved, mine, 0} end
local amount = tonumber(ARGV[2])
if daily + reserved + amount > tonumber(ARGV[3]) then return {'daily', daily, monthly, reserved, 0, 0} end
if monthly + reserved + amount > tonumber(ARGV[4]) then return {'monthly', daily, monthly, reserved, 0, 0} end
local ttl = tonumber(ARGV[5])
redis.call('ZADD', KEYS[3], now + ttl, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], amount)
for k = 3, 4 do
  if redis.call('PTTL', KEYS[k]) < ttl then redis.call('PEXPIRE', KEYS[k], ttl) end
end
return {'ok', daily, monthly, reserved + amount, amount, 0}
`;

/**
 * Settle. KEYS: day, month, session, per-request marker, reservations, reserved
 * amounts, day-unhydrated, month-unhydrated. ARGV: request id, tokens, settledAt (ISO),
 * day ttl s, month ttl s, marker ttl s.
 *
 * Always drops the request's reservation. Adds the tokens once: the marker, set in the
 * same script, makes a retry change nothing (it returns the first settle's marker,
 * `s|<settledAt>` or `e|<settledAt>` once the usage event was sent). While a counter is
 * not hydrated, the request is also noted in the `*-unhydrated` hash so the later
 * seeding from the ledger neither misses nor double counts it.
 * Returns `{first (1|0), marker, dailyUsed}`.
 */
export const SETTLE_SCRIPT = `
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[6], ARGV[1])
local marker = redis.call('GET', KEYS[4])
if marker then
  return {0, marker, tonumber(redis.call('HGET', KEYS[1], 'used') or '0')}
end
marker = 's|' .. ARGV[3]
redis.call('SET', KEYS[4], marker, 'EX', ARGV[6])
local tokens = tonumber(ARGV[2])
if tokens > 0 then
  for k = 1, 2 do
    local ttl = ARGV[3 + k]
    redis.call('HINCRBY', KEYS[k], 'used', tokens)
    redis.call('EXPIRE', KEYS[k], ttl)
    if not redis.call('HGET', KEYS[k], 'h') then
      redis.call('HSET', KEYS[6 + k], ARGV[1], tokens)
      redis.call('EXPIRE', KEYS[6 + k], ttl)
    end
  end
  redis.call('INCRBY', KEYS[3], tokens)
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
return {1, marker, tonumber(redis.call('HGET', KEYS[1], 'used') or '0')}
`;

/**
 * Hydrate. KEYS: day, month, day-unhydrated, month-unhydrated. ARGV: day base, month
 * base (ledger sums without the unhydrated requests the caller saw), how many
 * unhydrated requests the caller saw for the day and the month, day ttl s, month ttl s.
 * Seeds each counter that is not hydrated yet: `used += base`, `h = 1`. Returns 0 (and
 * changes nothing) when a settle landed since the caller read the unhydrated requests:
 * the caller reads again and retries.
 */
export const HYDRATE_SCRIPT = `
for k = 1, 2 do
  if not redis.call('HGET', KEYS[k], 'h') and redis.call('HLEN', KEYS[2 + k]) ~= tonumber(ARGV[2 + k]) then
    return 0
  end
end
for k = 1, 2 do
  if not redis.call('HGET', KEYS[k], 'h') then
    redis.call('HINCRBY', KEYS[k], 'used', ARGV[k])
    redis.call('HSET', KEYS[k], 'h', 1)
    redis.call('EXPIRE', KEYS[k], ARGV[4 + k])
    redis.call('DEL', KEYS[2 + k])
  end
end
return 1
`;

/** Marks the request's usage event as sent (keeps the marker's TTL). ARGV: settledAt. */
export const MARK_EMITTED_SCRIPT = `
if redis.call('GET', KEYS[1]) then
  redis.call('SET', KEYS[1], 'e|' .. ARGV[1], 'XX', 'KEEPTTL')
end
return 1
`;
