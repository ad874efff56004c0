/** What activities need from the world, injected by the worker (or a test). */
import type OpenAI from 'openai';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { EventLog } from '../lib/event-log';
import type { Logger } from '../lib/logger';
import type { UsageCounters } from '../lib/usage-counters';
import type { ModelInfo } from '../lib/tokens';

export interface ActivityDeps {
  db: Pool;
  redis: Redis;
  events: EventLog;
  usage: UsageCounters;
  /** The chat LLM (OpenAI-compatible; the embedded local one by default). */
  llm: OpenAI;
  logger: Logger;
  /** Injected so tests can move time. */
  clock: () => Date;
  limits: { freeDailyTokens: number; proDailyTokens: number };
  /** Extra or overriding model table entries. */
  models?: Readonly<Record<string, ModelInfo>>;
}
