/**
 * Creates the Temporal workers of this process, one per task queue (`chat`, `tools`,
 * `billing`, `summaries`), so each kind of work has its own queue and backlog. Locally
 * one process polls them all; in production each queue can get its own processes
 * (`WORKER_TASK_QUEUES`). Every worker registers every workflow and activity: which
 * queue a task lands on is decided by whoever schedules it.
 */
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { TaskQueues } from '../contracts/common';
import { workflowBundle } from './bundle';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueues: TaskQueues;
  deps: ActivityDeps;
  /**
   * Payload codecs: every process passes `dataConverter(config.payloadKeys)`
   * (lib/payload-codec.ts); absent = payloads in clear (tests, benchmarks).
   */
  dataConverter?: DataConverter;
  /** Which queues this process polls (default: all). */
  serve?: ReadonlyArray<keyof TaskQueues>;
  /**
   * A prebuilt workflow bundle (`WORKFLOW_BUNDLE_PATH`, the release's
   * dist/workflow-bundle.js); otherwise the workflows are bundled now, once per process.
   */
  workflowBundlePath?: string;
  /** LLM streams the chat queue's worker runs at once (`LLM_ACTIVITY_SLOTS`); each mostly waits on I/O. */
  llmActivitySlots?: number;
  /**
   * Chat workflows the chat queue's worker keeps in memory between their tasks
   * (`WORKFLOW_CACHE_SIZE`). A chat waits out its whole reply between two tasks; past
   * this many, the least recent is evicted and replayed (a dozen events) at its next task.
   */
  workflowCacheSize?: number;
  /** Overrides for tests (e.g. shorter shutdown). */
  options?: Partial<WorkerOptions>;
}

/** Per-queue tuning: chat is latency-bound, summaries are bounded to cap the backlog. */
const QUEUE_OPTIONS: Record<keyof TaskQueues, Partial<WorkerOptions>> = {
  chat: {
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
  },
  // Heartbeats carry tool checkpoints and prove the worker alive: tools heartbeat once a
  // second, and each goes out at once (never held back by the throttle), so the server's
  // last heartbeat is the tool's last report (the tool heartbeat timeout is 3 s,
  // workflows/tool.ts).
  tools: { maxConcurrentActivityTaskExecutions: 100, maxHeartbeatThrottleInterval: '500ms' },
  billing: { maxConcurrentActivityTaskExecutions: 50 },
  summaries: { maxConcurrentActivityTaskExecutions: 4 },
};

export const ALL_QUEUES: ReadonlyArray<keyof TaskQueues> = [
  'chat',
  'tools',
  'billing',
  'summaries',
];

/** Creates one worker per served task queue; run them with `runWorkers`. */
export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  const activities = createActivities(setup.deps);
  // One bundle for every queue's worker (bundling takes seconds; loading a file, not).
  const bundle = await workflowBundle(setup.workflowBundlePath);
  const workers: Worker[] = [];
  for (const queue of setup.serve ?? ALL_QUEUES) {
    workers.push(
      await Worker.create({
        connection: setup.connection,
        namespace: setup.namespace,
        taskQueue: setup.taskQueues[queue],
        workflowBundle: bundle,
        activities,
        ...(setup.dataConverter ? { dataConverter: setup.dataConverter } : {}),
        shutdownGraceTime: '5s',
        ...QUEUE_OPTIONS[queue],
        ...(queue === 'chat' && setup.llmActivitySlots
          ? { maxConcurrentActivityTaskExecutions: setup.llmActivitySlots }
          : {}),
        ...(queue === 'chat' && setup.workflowCacheSize
          ? { maxCachedWorkflows: setup.workflowCacheSize }
          : {}),
        ...setup.options,
      }),
    );
  }
  return workers;
}

/** Runs workers until all have stopped (they stop on SIGINT/SIGTERM or `shutdown()`). */
export async function runWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}

/** Asks every worker to drain and stop. */
export function shutdownWorkers(workers: readonly Worker[]): void {
  for (const w of workers) {
    if (w.getState() === 'RUNNING') w.shutdown();
  }
}
