/**
 * A chat worker inside the API process, for eager workflow start.
 *
 * When the client that starts a workflow shares its `NativeConnection` with a worker
 * polling the workflow's task queue, the server hands the first workflow task back in
 * the start response (`requestEagerStart`): no task-queue dispatch before the first
 * step, and `callLlm` then runs here too (eager activity dispatch). Separate worker
 * processes keep polling the same queues: they take every request the API's worker
 * cannot (no free slot, eager start refused or disabled) and every retry after the API
 * dies. Only the `chat` queue is served here; tools, billing and summaries stay on the
 * worker processes.
 */
import os from 'node:os';
import { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { dataConverter } from '../lib/payload-codec';
import { createActivityDeps } from './deps';
import { createWorkers, runWorkers, shutdownWorkers } from './worker';

export interface EmbeddedChatWorker {
  /** A client on the worker's connection: its starts can be eager. */
  client: Client;
  worker: Worker;
  /** Drains the worker, then closes its connections. */
  stop(): Promise<void>;
}

/**
 * The identity of the API's client (`<pid>@<host>-api`). An eagerly started workflow's
 * first `WorkflowTaskStarted` event carries the starter's identity (the server hands
 * the task back in the start response), so the Temporal UI shows which chats started
 * eagerly; a task that went through the queue carries the polling worker's identity.
 */
export function apiClientIdentity(): string {
  return `${process.pid}@${os.hostname()}-api`;
}

/** Starts a worker polling the chat queue, and a client that shares its connection. */
export async function startEmbeddedChatWorker(
  config: Readonly<Config>,
  logger: Logger,
): Promise<EmbeddedChatWorker> {
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const owned = createActivityDeps(config, logger);
  try {
    const [worker] = await createWorkers({
      connection,
      namespace: config.temporalNamespace,
      taskQueues: config.taskQueues,
      deps: owned.deps,
      dataConverter: dataConverter(config.payloadKeys),
      serve: ['chat'],
      workflowBundlePath: config.workflowBundlePath,
      llmActivitySlots: config.llmActivitySlots,
      workflowCacheSize: config.workflowCacheSize,
      // Without API_RUNS_LLM the LLM calls go to the worker processes (no eager dispatch):
      // this process then only relays and runs the chat's workflow tasks and local steps.
      options: { shutdownGraceTime: '2s', enableNonLocalActivities: config.apiRunsLlm },
    });
    const running = runWorkers([worker!]).catch((err: unknown) => {
      logger.error('the API chat worker stopped', { err });
    });
    const client = new Client({
      connection,
      namespace: config.temporalNamespace,
      identity: apiClientIdentity(),
      dataConverter: dataConverter(config.payloadKeys),
    });
    return {
      client,
      worker: worker!,
      async stop() {
        shutdownWorkers([worker!]);
        await running;
        await owned.close();
        await connection.close();
      },
    };
  } catch (err) {
    await owned.close();
    await connection.close();
    throw err;
  }
}
