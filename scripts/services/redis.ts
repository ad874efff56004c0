/** Redis: reuse the server at REDIS_URL, or start a throwaway local one. */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { spawnChild, waitUntil, type Started } from './child';
import { maskUrl, type Logger } from './log';
import { aptInstall, findOnPath, isLocalHost } from './system';

/** True when Redis at `url` answers PING. */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined); // the failed connect() reports it
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Makes sure Redis answers at `redisUrl`; when it does not and the host is local,
 * starts `redis-server` (no persistence) on that port. Returns what it started, or null.
 */
export async function ensureRedis(
  redisUrl: string,
  opts: { dataDir: string; log: Logger },
): Promise<Started | null> {
  const { log } = opts;
  if (await redisAnswers(redisUrl)) {
    log.info(`Redis: reusing ${maskUrl(redisUrl)}`);
    return null;
  }
  const url = new URL(redisUrl);
  if (!isLocalHost(url.hostname)) {
    throw new Error(`Redis does not answer at ${maskUrl(redisUrl)}, and that is not this machine`);
  }
  let binary = findOnPath('redis-server');
  if (!binary) {
    await aptInstall(['redis-server'], log);
    // The package may start its own service on the default port.
    if (await redisAnswers(redisUrl)) return null;
    binary = findOnPath('redis-server');
    if (!binary) throw new Error('redis-server is still missing after installing it');
  }
  const port = url.port || '6379';
  mkdirSync(opts.dataDir, { recursive: true });
  const logFile = path.join(opts.dataDir, 'redis.log');
  log.info(`Redis: starting redis-server on 127.0.0.1:${port} (log: ${logFile})`);
  const args = ['--port', port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--dir', path.resolve(opts.dataDir));
  const fd = openSync(logFile, 'a');
  const server = spawnChild('redis', binary, args, { output: fd });
  closeSync(fd);
  try {
    await waitUntil(() => redisAnswers(redisUrl), {
      what: 'redis-server',
      timeoutMs: 20_000,
      process: server,
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
