/** Builds the activities' dependencies from config (real Postgres, Redis, LLM client). */
import OpenAI from 'openai';
import type { ActivityDeps } from '../activities';
import type { Config, LlmEndpoint } from '../lib/config';
import { createPool } from '../lib/db';
import { EventLog } from '../lib/event-log';
import type { Logger } from '../lib/logger';
import { createRedis } from '../lib/redis';
import { UsageCounters } from '../lib/usage-counters';

/** An OpenAI client for an endpoint. Temporal owns retries: the client never retries. */
export function createLlmClient(endpoint: LlmEndpoint): OpenAI {
  return new OpenAI({
    baseURL: endpoint.baseUrl,
    apiKey: endpoint.apiKey,
    maxRetries: 0,
    timeout: 120_000,
  });
}

export interface OwnedDeps {
  deps: ActivityDeps;
  close(): Promise<void>;
}

/** Opens the connections activities use; `close()` releases them. */
export function createActivityDeps(config: Config, logger: Logger): OwnedDeps {
  const db = createPool(config.databaseUrl);
  const redis = createRedis(config.redisUrl, 'worker');
  const deps: ActivityDeps = {
    db,
    redis,
    events: new EventLog(redis, config.eventTtlSeconds),
    usage: new UsageCounters(redis),
    llm: createLlmClient(config.llm),
    logger,
    clock: () => new Date(),
    limits: { freeDailyTokens: config.freeDailyTokens, proDailyTokens: config.proDailyTokens },
  };
  return {
    deps,
    async close() {
      redis.disconnect();
      await db.end();
    },
  };
}
