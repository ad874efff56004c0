/**
 * The workflow test layer (docs/ARCHITECTURE.md "Tests in layers"): the real workflow code
 * on the real Temporal dev server, its activities replaced by typed fakes, the way
 * Temporal's samples test workflows (`Worker.create({ activities: fakes })` then
 * `worker.runUntil(client.workflow.execute(...))`). Not `TestWorkflowEnvironment`: it
 * downloads a server, and the suite already has one running.
 *
 * The fakes are typed against the real activities (`Partial<Activities>`), so renaming an
 * activity or changing its signature breaks these tests at compile time, not at run time.
 */
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Activities } from '../activities';
import { chatSettings } from '../api/chat';
import type { ChatSettings, ChatWorkflowInput } from '../contracts/chat';
import type { TaskQueues, TokenUsage } from '../contracts/common';
import { loadConfig } from '../lib/config';
import { ensureBundle } from './tool-worker-process';

/** Any subset of the real activities, each with its real signature. */
export type FakeActivities = Partial<Activities>;

/** One call a fake received. */
export interface ActivityCall {
  name: keyof Activities;
  input: unknown;
}

/** Every call the fakes of one test received, in the order they arrived. */
export class CallLog {
  readonly calls: ActivityCall[] = [];

  /** The names of the calls, in order (retries included: one entry per attempt). */
  names(): Array<keyof Activities> {
    return this.calls.map((c) => c.name);
  }

  /** The inputs of every call of `name`, typed as that activity's input. */
  of<K extends keyof Activities>(name: K): Array<Parameters<Activities[K]>[0]> {
    return this.calls
      .filter((c) => c.name === name)
      .map((c) => c.input as Parameters<Activities[K]>[0]);
  }

  count(name: keyof Activities): number {
    return this.of(name).length;
  }
}

/** The same fakes, each logging its input to `log` before it runs (activities take one input). */
export function recorded<T extends FakeActivities>(fakes: T, log: CallLog): T {
  const wrapped: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(fakes) as Array<
    [keyof Activities, (input: unknown) => Promise<unknown>]
  >) {
    wrapped[name] = (input: unknown) => {
      log.calls.push({ name, input });
      return fn(input);
    };
  }
  return wrapped as T;
}

/** The usage every fake LLM call reports, unless a test says otherwise. */
export const LLM_USAGE: TokenUsage = {
  promptTokens: 12,
  completionTokens: 5,
  totalTokens: 17,
  estimated: false,
};

/** When the fake settle says the usage was settled (the ledger record's `createdAt`). */
export const SETTLED_AT = '2026-01-02T03:04:05.000Z';

/**
 * Fakes of every activity a chat request runs, answering the happy path: a prompt of one
 * message, a granted reservation, one LLM call with {@link LLM_USAGE} and no tool calls, a
 * stored reply. A test overrides the ones its behaviour is about.
 */
export function chatFakes(overrides: FakeActivities = {}): FakeActivities {
  const base: FakeActivities = {
    prepareChat: (input) =>
      Promise.resolve({
        messages: [{ role: 'user', content: input.content }],
        promptTokens: 12,
        summaryDue: false,
        windowStartId: 'window-start',
      }),
    reserveQuota: (input) =>
      Promise.resolve({ amount: input.amount, dailyLimit: 50_000, monthlyLimit: 1_500_000 }),
    callLlm: () =>
      Promise.resolve({ content: 'Hello!', toolCalls: [], finishReason: 'stop', usage: LLM_USAGE }),
    settleUsage: (input) =>
      Promise.resolve({ settledAt: SETTLED_AT, dailyUsed: input.usage.totalTokens }),
    saveReply: () => Promise.resolve({ messageId: 'reply-1' }),
    recordUsage: () => Promise.resolve({ inserted: true }),
    emitEvent: () => Promise.resolve(),
    saveToolCalls: () => Promise.resolve(),
    finishToolCall: () => Promise.resolve(),
    recordToolOutcome: () => Promise.resolve(),
  };
  return { ...base, ...overrides };
}

/** A chat request's input for these tests: the real settings from config, then `settings`. */
export function chatInput(
  taskQueues: TaskQueues,
  overrides: Partial<Omit<ChatWorkflowInput, 'settings'>> & {
    settings?: Partial<ChatSettings>;
  } = {},
): ChatWorkflowInput {
  const { settings, ...rest } = overrides;
  return {
    requestId: randomUUID(),
    userId: randomUUID(),
    sessionId: randomUUID(),
    content: 'Hello there',
    model: 'gpt-4o-mini',
    plan: 'free',
    taskQueues,
    ...rest,
    // Two LLM attempts (0.3 s apart) keep a failing LLM's tests short.
    settings: { ...chatSettings(loadConfig()), llmMaxAttempts: 2, ...settings },
  };
}

/** One queue name for all four kinds of work: one worker then serves a request and its children. */
export function singleQueue(): TaskQueues {
  const q = `wf-test-${randomUUID().slice(0, 8)}`;
  return { chat: q, tools: q, billing: q, summaries: q };
}

/**
 * The commands a workflow's history records, in order: `local:<activity>` (one per
 * completed local activity), `activity:<activity>` (scheduled), `child:<workflow type>`
 * (start initiated). Enough to assert what a workflow did before what.
 */
export async function historySteps(handle: WorkflowHandle): Promise<string[]> {
  const steps: string[] = [];
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const marker = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    if (marker) {
      const local = JSON.parse(Buffer.from(marker).toString('utf8')) as { activity_type?: string };
      if (local.activity_type) steps.push(`local:${local.activity_type}`);
    }
    const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) steps.push(`activity:${activity}`);
    const child = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
    if (child) steps.push(`child:${child}`);
  }
  return steps;
}

/** A worker to run for a test: a task queue and the fakes it registers. */
export interface FakeWorker {
  taskQueue: string;
  activities: FakeActivities;
}

export interface WorkflowEnv {
  client: Client;
  /** Runs `body` while a worker per entry of `workers` serves its queue; shuts them down after. */
  withWorkers<T>(workers: readonly FakeWorker[], body: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Connects to the suite's Temporal server (`TEMPORAL_ADDRESS`) and loads the workflow
 * bundle once: one per test file; each test then starts its workers on its own queues.
 */
export async function workflowEnv(): Promise<WorkflowEnv> {
  // These tests start a worker per test and make activities fail on purpose: only errors
  // are worth printing. (The Runtime is per process, so per test file.)
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig();
  const codePath = await ensureBundle();
  const native = await NativeConnection.connect({ address: config.temporalAddress });
  const connection = await Connection.connect({ address: config.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });

  const runAll = async <T>(workers: readonly Worker[], body: () => Promise<T>): Promise<T> => {
    const [first, ...rest] = workers;
    return first ? await first.runUntil(() => runAll(rest, body)) : await body();
  };

  return {
    client,
    async withWorkers(specs, body) {
      const workers: Worker[] = [];
      for (const spec of specs) {
        workers.push(
          await Worker.create({
            connection: native,
            namespace: config.temporalNamespace,
            taskQueue: spec.taskQueue,
            workflowBundle: { codePath },
            activities: spec.activities,
            shutdownGraceTime: '1s',
            // Cancellation reaches a heartbeating fake within a fraction of a second.
            maxHeartbeatThrottleInterval: '100ms',
          }),
        );
      }
      return await runAll(workers, body);
    },
    async close() {
      await connection.close();
      await native.close();
    },
  };
}

/**
 * The test file's workflow environment, opened before its tests and closed after them
 * (node:test hooks): call it once at the top of a file, use it inside the tests.
 */
export function useWorkflowEnv(): WorkflowEnv {
  let opened: WorkflowEnv | undefined;
  before(async () => {
    opened = await workflowEnv();
  });
  after(() => opened?.close());
  const env = (): WorkflowEnv => {
    if (!opened) throw new Error('the workflow environment is only open inside the tests');
    return opened;
  };
  return {
    get client() {
      return env().client;
    },
    withWorkers: (workers, body) => env().withWorkers(workers, body),
    close: () => env().close(),
  };
}
