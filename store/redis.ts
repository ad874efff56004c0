/** Redis connections. */
import Redis from 'ioredis';

/**
 * Creates an ioredis client. Commands fail fast while Redis is unreachable (no
 * offline queue growing without bound) and the client reconnects by itself.
 */
export function createRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
}

/**
 * A Redis client for caching that fails fast: commands time out after
 * `commandTimeoutMs`, nothing queues while disconnected, nothing is retried, and the
 * client reconnects by itself in the background.
 */
export function createCacheRedis(url: string, name: string, commandTimeoutMs = 100): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: (times) => Math.min(100 * times, 1_000),
  });
  // Connection errors surface as failed commands; the cache logs those itself.
  redis.on('error', () => undefined);
  return redis;
}

export type { Redis };
