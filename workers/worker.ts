/**
 * Creates the Temporal workers of this process: one per task queue it serves. One
 * process polls every queue locally; in production each queue can get its own
 * processes (`WORKER_TASK_QUEUES`).
 */
import type { NativeConnection} from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import type { TaskQueues } from '../contracts/definitions';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueues: TaskQueues;
  deps: ActivityDeps;
  /** A prebuilt workflow bundle (faster start); otherwise workflows are bundled now. */
  workflowBundlePath?: string;
  /** Overrides for tests (e.g. shorter shutdown). */
  options?: Partial<WorkerOptions>;
}

function workflowSource(setup: WorkerSetup): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return setup.workflowBundlePath
    ? { workflowBundle: { codePath: setup.workflowBundlePath } }
    : { workflowsPath: require.resolve('../workflows') };
}

/** The chat worker: chat workflows, their local activities and the LLM activity. */
export async function createChatWorker(setup: WorkerSetup): Promise<Worker> {
  return Worker.create({
    connection: setup.connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueues.chat,
    ...workflowSource(setup),
    activities: createActivities(setup.deps),
    maxConcurrentActivityTaskExecutions: 200,
    maxConcurrentLocalActivityExecutions: 200,
    maxConcurrentWorkflowTaskExecutions: 100,
    shutdownGraceTime: '5s',
    ...setup.options,
  });
}
