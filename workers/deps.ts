/** Builds the activities' dependencies from config (real Postgres, Redis, LLM client). */
import OpenAI from 'openai';
import type { ActivityDeps } from '../activities';
import type { Config, LlmEndpoint } from '../lib/config';
import { createPool } from '../store/db';
import { CircuitBreaker } from '../lib/circuit-breaker';
import { catalogModelTable } from '../prompt/tokens';
import { SummaryStore } from '../store/summaries';
import type { Logger } from '../lib/logger';
import { UsageCounters } from '../usage/counters';
import { createCacheRedis, createRedis } from '../store/redis';
import { UserService } from '../users/user-service';
import { McpCatalog } from '../tools/mcp/catalog';
import { McpHub } from '../tools/mcp/hub';
import { MeteredEventLog } from './metered-event-log';

/** An OpenAI client for an endpoint. Temporal owns retries: the client never retries. */
export function createLlmClient(endpoint: LlmEndpoint): OpenAI {
  return new OpenAI({
    baseURL: endpoint.baseUrl,
    // A provider of LLM_CONFIG may need no key; the client refuses to be built without one.
    apiKey: endpoint.apiKey || 'none',
    maxRetries: 0,
    timeout: 120_000,
  });
}

export interface OwnedDeps {
  deps: ActivityDeps;
  close(): Promise<void>;
}

/**
 * Opens the connections activities use; `close()` releases them. With `mcp` (a process
 * that serves the tools queue) it also connects to every MCP server of `MCP_CONFIG`.
 */
export function createActivityDeps(config: Config, logger: Logger, options: { mcp?: boolean } = {}): OwnedDeps {
  const db = createPool(config.databaseUrl);
  const redis = createRedis(config.redisUrl, 'worker');
  const cacheRedis = createCacheRedis(
    config.redisUrl,
    'worker-cache',
    config.cacheCommandTimeoutMs,
  );
  const userService = new UserService(db, cacheRedis, {
    logger,
    cache: { ttlMs: config.userCacheTtlSeconds * 1000 },
  });
  const mcpCatalog = new McpCatalog(redis, config.taskQueues.tools, config.mcpServers);
  const mcp = options.mcp && config.mcpServers.length > 0 ? new McpHub(mcpCatalog, logger).start() : undefined;
  const deps: ActivityDeps = {
    db,
    redis,
    mcpCatalog,
    ...(mcp ? { mcp } : {}),
    events: new MeteredEventLog(redis, config.eventTtlSeconds),
    usage: new UsageCounters(redis),
    userService,
    llm: createLlmClient(config.llm),
    summaryLlm: createLlmClient(config.summaryLlm),
    summaries: new SummaryStore(db, redis),
    summaryBreaker: new CircuitBreaker(redis, 'summary-llm', {
      failureThreshold: config.summaryBreakerFailures,
      windowMs: 60_000,
      cooldownMs: config.summaryBreakerCooldownMs,
    }),
    // The models of LLM_CONFIG by their own names: their windows and encodings.
    models: Object.freeze({ ...config.modelTable, ...catalogModelTable(config.models, config.modelTable) }),
    catalog: config.models,
    llmBreaker: config.llmBreaker,
    llmFirstTokenTimeoutMs: config.llmFirstTokenTimeoutMs,
    deltaFlush: config.deltaFlush,
    logger,
    clock: () => new Date(),
    limits: {
      freeDailyTokens: config.freeDailyTokens,
      proDailyTokens: config.proDailyTokens,
      freeMonthlyTokens: config.freeMonthlyTokens,
      proMonthlyTokens: config.proMonthlyTokens,
      reservationTtlSeconds: config.quotaReservationTtlSeconds,
    },
  };
  return {
    deps,
    async close() {
      await mcp?.close();
      redis.disconnect();
      userService.close();
      cacheRedis.disconnect();
      await db.end();
    },
  };
}
