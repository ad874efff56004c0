/** What activities need from the world, injected by the worker (or a test). */
import type OpenAI from 'openai';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { BreakerOptions, CircuitBreaker } from '../lib/circuit-breaker';
import type { EventLog } from '../store/event-log';
import type { SummaryStore } from '../store/summaries';
import type { Logger } from '../lib/logger';
import type { UsageCounters } from '../usage/counters';
import type { PlanLimits } from '../usage/ledger';
import type { UserService } from '../users/user-service';
import type { DeltaFlushSettings } from '../lib/config';
import type { ModelInfo } from '../prompt/tokens';
import type { McpCatalog } from '../tools/mcp/catalog';
import type { McpHub } from '../tools/mcp/hub';
import type { ModelCatalog } from '../models/catalog';

export interface ActivityDeps {
  db: Pool;
  redis: Redis;
  events: EventLog;
  usage: UsageCounters;
  /** Cached user reads (the prompt's user context). */
  userService: UserService;
  /** The chat LLM (OpenAI-compatible; the embedded local one by default). */
  llm: OpenAI;
  /** The summarisation LLM (may be another endpoint; defaults to the chat one). */
  summaryLlm: OpenAI;
  summaries: SummaryStore;
  summaryBreaker: CircuitBreaker;
  logger: Logger;
  /** Injected so tests can move time. */
  clock: () => Date;
  /** Plan quotas, and how long a quota reservation may outlive a dead request. */
  limits: PlanLimits & { reservationTtlSeconds: number };
  /** How LLM tokens are coalesced into deltas (activities/delta-writer.ts); defaults when absent. */
  deltaFlush?: DeltaFlushSettings;
  /** The MCP servers' tools as the tools workers published them (tools/mcp/catalog.ts). */
  mcpCatalog: McpCatalog;
  /** This process's MCP connections: only in a process that serves the tools queue. */
  mcp?: McpHub;
  /**
   * The models and their provider routes (`LLM_CONFIG`); absent: every model name goes to
   * {@link ActivityDeps.llm}'s endpoint, as before routes.
   */
  catalog?: ModelCatalog;
  /** The providers' circuit breaker (default `DEFAULT_LLM_BREAKER`). */
  llmBreaker?: BreakerOptions;
  /** A provider without a first token after this long hands over (default 30 s). */
  llmFirstTokenTimeoutMs?: number;
  /** Extra or overriding model table entries. */
  models?: Readonly<Record<string, ModelInfo>>;
}
