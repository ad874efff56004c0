/** Real checks of the services the API depends on, each bounded in time. */
import { temporal as proto } from '@temporalio/proto';
import type { ApiDeps } from './deps';

export type CheckState = 'ok' | 'down';

export interface Health {
  status: 'ok' | 'down';
  checks: { temporal: CheckState; redis: CheckState; postgres: CheckState; workers: CheckState };
}

/**
 * A worker counts as polling when the server saw its poll this recently: an idle
 * worker's long poll lasts up to about a minute before it polls again.
 */
const POLLER_FRESH_MS = 90_000;

const CHECK_TIMEOUT_MS = 1500;

async function check(probe: () => Promise<unknown>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True when some worker polls the chat task queue for workflow tasks: without one, chat
 * requests would be accepted and then wait. Makes `/healthz` mean ready to chat.
 */
async function chatWorkersPolling(deps: ApiDeps): Promise<void> {
  const { connection } = deps.temporal;
  const res = await connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
    connection.workflowService.describeTaskQueue({
      namespace: deps.config.temporalNamespace,
      taskQueue: { name: deps.config.taskQueues.chat, kind: proto.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    }),
  );
  const now = Date.now();
  const fresh = (res.pollers ?? []).some((p) => {
    const seconds = Number(p.lastAccessTime?.seconds ?? 0);
    return now - seconds * 1000 < POLLER_FRESH_MS;
  });
  if (!fresh) throw new Error('no worker polls the chat task queue');
}

/** Checks Temporal, Redis, Postgres and the chat queue's workers in parallel. */
export async function checkHealth(deps: ApiDeps): Promise<Health> {
  const [temporal, redis, postgres, workers] = await Promise.all([
    check(() =>
      deps.temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
        deps.temporal.connection.workflowService.getSystemInfo({}),
      ),
    ),
    check(() => deps.redis.ping()),
    check(() => deps.db.query('SELECT 1')),
    check(() => chatWorkersPolling(deps)),
  ]);
  const checks = { temporal, redis, postgres, workers };
  const status = Object.values(checks).every((c) => c === 'ok') ? 'ok' : 'down';
  return { status, checks };
}
