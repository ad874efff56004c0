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

export type { Redis };
