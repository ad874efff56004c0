/**
 * Reading long-running tool tasks (`toolWorkflow`s) from Temporal, for the API
 * (`GET /v1/tasks/:taskId`) and for operators (`npm run ops -- tools:stuck`): the
 * owner from the memo, the state from `toolStateQuery`, and live progress from the
 * pending activity's last heartbeat, the same details the Temporal UI shows.
 */
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowClient,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { decodeRaw } from '../lib/payload-codec';
import {
  toolStateQuery,
  type ToolHeartbeat,
  type ToolState,
  type ToolTaskMemo,
  type ToolWorkflowResult,
} from '../contracts/tool';

/** The workflow type of tool tasks (visibility queries use it by name). */
export const TOOL_WORKFLOW_TYPE = 'toolWorkflow';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/**
 * Shape of task ids: `tool-<userId>-<requestId>-<toolCallId>`, or the older
 * `tool-<requestId>-<toolCallId>`; anything else is not a task. Group 1 is the requestId.
 */
export const TASK_ID_RE = new RegExp(`^tool-(?:${UUID}-)?(${UUID})-[A-Za-z0-9_-]{1,64}$`);

/** The requestId inside a task id, or undefined when it is not a task id. */
export function taskRequestId(taskId: string): string | undefined {
  return TASK_ID_RE.exec(taskId)?.[1];
}

/** How long a query may take before the answer falls back to the workflow's history. */
const QUERY_TIMEOUT_MS = 3000;

/** A tool activity that is scheduled or running, as `describe()` reports it. */
export interface PendingTool {
  activityType: string;
  attempt: number;
  /** When the current attempt last heartbeated (or started, if it has not yet). */
  lastHeartbeatAt?: Date;
  lastStartedAt?: Date;
  details?: ToolHeartbeat;
  lastFailure?: string;
}

/** The pending activities of a described tool workflow, heartbeat details decoded (and decrypted). */
export async function pendingTools(
  workflows: WorkflowClient,
  desc: WorkflowExecutionDescription,
): Promise<PendingTool[]> {
  return Promise.all(
    (desc.raw.pendingActivities ?? []).map(async (a) => {
      const payload = a.heartbeatDetails?.payloads?.[0];
      let details: ToolHeartbeat | undefined;
      if (payload) {
        try {
          details = (await decodeRaw<ToolHeartbeat>(workflows, payload)) ?? undefined;
        } catch {
          details = undefined;
        }
      }
      const beat = optionalTsToMs(a.lastHeartbeatTime);
      const started = optionalTsToMs(a.lastStartedTime);
      return {
        activityType: a.activityType?.name ?? '',
        attempt: a.attempt ?? 1,
        ...(beat !== undefined ? { lastHeartbeatAt: new Date(beat) } : {}),
        ...(started !== undefined ? { lastStartedAt: new Date(started) } : {}),
        ...(details ? { details } : {}),
        ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
      };
    }),
  );
}

/** The owner of a described workflow when it is a tool task; undefined otherwise. */
export function taskOwner(desc: WorkflowExecutionDescription): string | undefined {
  if (desc.type !== TOOL_WORKFLOW_TYPE) return undefined;
  const memo = desc.memo as Partial<ToolTaskMemo> | undefined;
  return typeof memo?.userId === 'string' ? memo.userId : undefined;
}

/**
 * Describes the task if it exists and belongs to `userId`; undefined otherwise (the
 * API answers both the same way: 404).
 */
export async function describeOwnedTask(
  client: Client,
  userId: string,
  taskId: string,
): Promise<WorkflowExecutionDescription | undefined> {
  if (!TASK_ID_RE.test(taskId)) return undefined;
  try {
    const desc = await client.workflow.getHandle(taskId).describe();
    return taskOwner(desc) === userId ? desc : undefined;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** The state from the workflow's history when it cannot be queried (closed, no worker). */
async function stateFromHistory(
  client: Client,
  desc: WorkflowExecutionDescription,
): Promise<ToolState> {
  const tool = String(
    desc.typedSearchAttributes.getAll().find((p) => p.key.name === 'ToolName')?.value ?? '',
  );
  const base = { taskId: desc.workflowId, tool, progress: 0, message: '' };
  switch (desc.status.name) {
    case 'RUNNING':
      return { ...base, status: 'running', message: 'running' };
    case 'COMPLETED': {
      const out = (await client.workflow.getHandle(desc.workflowId).result()) as ToolWorkflowResult;
      return { ...base, status: 'completed', progress: 100, message: 'done', result: out.result };
    }
    case 'CANCELLED':
      return { ...base, status: 'cancelled', message: 'cancelled', error: 'cancelled' };
    default: {
      const error = await client.workflow
        .getHandle(desc.workflowId)
        .result()
        .then(
          () => 'the tool failed',
          (err: unknown) => {
            const cause = (err as { cause?: unknown }).cause;
            return cause instanceof Error ? cause.message : 'the tool failed';
          },
        );
      return { ...base, status: 'failed', message: 'failed', error };
    }
  }
}

/**
 * The task's state: the workflow answers `toolStateQuery` (also once closed, replayed
 * by a worker); while it runs, progress and message come from the last heartbeat.
 */
export async function loadTaskState(
  client: Client,
  desc: WorkflowExecutionDescription,
): Promise<ToolState> {
  const handle = client.workflow.getHandle(desc.workflowId);
  let state: ToolState;
  try {
    state = await client.connection.withDeadline(Date.now() + QUERY_TIMEOUT_MS, () =>
      handle.query(toolStateQuery),
    );
  } catch {
    state = await stateFromHistory(client, desc);
  }
  if (state.status === 'running') {
    const beat = (await pendingTools(client.workflow, desc)).find((p) => p.details)?.details;
    if (beat) state = { ...state, progress: beat.progress, message: beat.message };
  }
  return state;
}
