/**
 * Dependencies for running one activity under `MockActivityEnvironment` (unit tests, no
 * service): an in-memory event log, an LLM client pointed at an in-process server, and
 * every other dependency a trap that fails the test loudly if the activity reaches for
 * it (a Postgres pool or Redis client that nothing provides).
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import OpenAI from 'openai';
import type { ActivityDeps } from '../activities/deps';
import type { EventLog } from '../store/event-log';
import { createLogger } from '../lib/logger';
import type { MemoryEventLog } from './memory-event-log';

/** The parts a test provides; `llmUrl` is an OpenAI-compatible base URL (`.../v1`). */
export interface UnitDepsParts {
  events: MemoryEventLog;
  llmUrl: string;
}

/** ActivityDeps over the given parts, as the worker builds them (workers/deps.ts). */
export function unitActivityDeps(parts: UnitDepsParts): ActivityDeps {
  const llm = new OpenAI({ baseURL: parts.llmUrl, apiKey: 'unit', maxRetries: 0 });
  const provided: Partial<ActivityDeps> = {
    // The real EventLog has private Redis members, so no other class can match it
    // nominally; MemoryEventLog implements its whole public surface (checked there).
    events: parts.events as unknown as EventLog,
    llm,
    summaryLlm: llm,
    logger: createLogger({ service: 'unit' }, 'error'),
    clock: () => new Date(),
  };
  return new Proxy(provided as ActivityDeps, {
    get(target, key) {
      if (SERVICES.has(key)) {
        throw new Error(`unit test: the activity used deps.${String(key)}, which no test provides`);
      }
      return target[key as keyof ActivityDeps];
    },
  });
}

/** Dependencies that reach a service; optional settings (deltaFlush, models) read as unset. */
const SERVICES = new Set<string | symbol>([
  'db',
  'redis',
  'usage',
  'userService',
  'summaries',
  'summaryBreaker',
  'limits',
] satisfies Array<keyof ActivityDeps>);

/** A MockActivityEnvironment whose SDK logger keeps quiet about the failures tests provoke. */
export function mockActivityEnv(info: Partial<Info>): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}

/** `env.run`, typed by the activity (the SDK's signature infers no result type). */
export function runActivity<P extends unknown[], R>(
  env: MockActivityEnvironment,
  fn: (...args: P) => Promise<R>,
  ...args: P
): Promise<R> {
  return env.run<P, R, typeof fn>(fn, ...args);
}
