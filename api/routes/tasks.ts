/**
 * Long-running tool tasks (docs/API.md "HTTP"): `GET /v1/tasks/:taskId` answers the task's
 * state, `POST /v1/tasks/:taskId/cancel` cancels it (the tool stops at its next
 * heartbeat; the chat request it belongs to ends with `error` `cancelled`). A task of
 * another user answers 404, exactly as one that does not exist.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import express, { type Request } from 'express';
import { ERRORS } from '../../contracts/errors';
import { describeOwnedTask, loadTaskState, taskRequestId } from '../../store/tool-tasks';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';

/** How long a task that its request announced but Temporal does not know yet is awaited. */
const STARTING_TASK_WAIT_MS = 300;

function userIdOf(req: Request): string {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user.userId;
}

/** The task routes, mounted on the authenticated `/v1` router. */
export function tasksRouter(deps: ApiDeps): express.Router {
  const router = express.Router();

  async function ownedTask(req: Request) {
    const taskId = String(req.params.taskId);
    const userId = userIdOf(req);
    let desc = await describeOwnedTask(deps.temporal, userId, taskId);
    // `tool_call` is written just before its workflow starts (so no progress can precede
    // it): a client that asks at once may be a few milliseconds early. Only for the
    // user's own requests, so the wait tells nobody whether another user's task exists.
    const requestId = taskRequestId(taskId);
    if (!desc && requestId && (await deps.events.exists(userId, requestId))) {
      await new Promise((r) => setTimeout(r, STARTING_TASK_WAIT_MS));
      desc = await describeOwnedTask(deps.temporal, userId, taskId);
    }
    if (!desc) throw new AppError(ERRORS.NotFound, 'task not found');
    return desc;
  }

  router.get('/tasks/:taskId', async (req, res) => {
    const desc = await ownedTask(req);
    const state = await loadTaskState(deps.temporal, desc);
    res.json({
      taskId: state.taskId,
      tool: state.tool,
      status: state.status,
      progress: state.progress,
      message: state.message,
      ...(state.result !== undefined ? { result: state.result } : {}),
      ...(state.error !== undefined ? { error: state.error } : {}),
    });
  });

  router.post('/tasks/:taskId/cancel', async (req, res) => {
    const desc = await ownedTask(req);
    try {
      await deps.temporal.workflow.getHandle(desc.workflowId).cancel();
    } catch (err) {
      // Already closed: nothing left to cancel; the task keeps its final state.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    res.status(202).json({ taskId: desc.workflowId });
  });

  return router;
}
