/** Chat requests: start (idempotently), cancel, and find a user's request. */
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import {
  cancelSignal,
  chatWorkflowId,
  type ChatMethod,
  type ChatSettings,
  type ChatWorkflowInput,
  type CompletionRequest,
} from '../contracts/chat';
import { MAX_TOOL_ROUNDS } from '../contracts/tool';
import { ERRORS } from '../contracts/errors';
import { quotaRefusalsTotal } from '../lib/metrics';
import type { Config } from '../lib/config';
import { ownsSession, trackSessionRequest } from '../store/sessions';
import type { chatWorkflow } from '../workflows/chat';
import type { AuthUser } from './auth';
import type { ApiDeps } from './deps';
import { AppError } from './errors';
import { chatModel } from './models';
import { chatRateLimiter } from './rate-limit';

export interface StartChat {
  requestId?: string;
  /** `''` for a stateless completion (no session). */
  sessionId: string;
  content: string;
  model?: string;
  /** The door it came in by (metrics); absent = the WebSocket. */
  method?: ChatMethod;
  /** An OpenAI-compatible completion's messages, tools and sampling (api/openai/). */
  completion?: CompletionRequest;
  /**
   * The caller has just checked (or created) the completion's session for this user, as
   * the Responses door does with the response row: no second check here.
   */
  sessionChecked?: boolean;
}

/**
 * Longest a chat workflow may run before Temporal ends it: an hour of work, plus a full
 * approval wait (`TOOL_APPROVAL_TIMEOUT_S`) for each round of tool calls.
 */
export function chatExecutionTimeoutMs(config: Pick<Config, 'toolApprovalTimeoutS'>): number {
  return (3600 + config.toolApprovalTimeoutS * MAX_TOOL_ROUNDS) * 1000;
}

/**
 * Starts the request's workflow. The workflow id comes from (user, requestId), so the
 * same requestId again finds the running or finished workflow instead of a new run:
 * `duplicate` tells the caller to replay its events. New requests count against the
 * user's per-minute limit (shared by every API process); replays never do.
 *
 * A request's session is checked once, where the contract needs it (docs/API.md):
 * - a WebSocket chat inside the workflow (`prepareChat`), not here: the API starts
 *   requests without Postgres, so a chat sent while Postgres is briefly down waits in
 *   its durable workflow and completes when it returns. An unknown or foreign session
 *   ends the request with `error` `not_found` after `accepted`;
 * - an OpenAI completion with a session here, before its workflow starts: the client
 *   gets a plain HTTP 404, and `prepareCompletion` does not check again.
 * Either way a session deleted after the check ends the request `cancelled` (the delete
 * cancels it; a message stored into it meets the foreign key: store/messages.ts).
 */
export function startChat(
  deps: ApiDeps,
  user: AuthUser,
  req: StartChat,
): Promise<{ requestId: string; duplicate: boolean }> {
  // Past its capacity the process refuses at once, before any other work (api/admission.ts).
  return deps.admission.admit(() => startAdmitted(deps, user, req));
}

async function startAdmitted(
  deps: ApiDeps,
  user: AuthUser,
  req: StartChat,
): Promise<{ requestId: string; duplicate: boolean }> {
  const requestId = (req.requestId ?? randomUUID()).toLowerCase();
  // Before anything counts or is written: a model that is not offered is refused.
  const model = chatModel(deps.config, req.model);
  const limiter = chatRateLimiter(deps.redis);
  const rate = await limiter.take(user.userId, requestId, deps.config.rateLimitPerMinute);
  if (!rate.allowed) {
    // A replay of a request already started is not new work: never limited.
    if (req.requestId && (await requestExists(deps, user.userId, requestId))) {
      return { requestId, duplicate: true };
    }
    quotaRefusalsTotal.inc({ reason: 'rate_limited' });
    throw new AppError(
      ERRORS.RateLimited,
      `${ERRORS.RateLimited.message}: at most ${deps.config.rateLimitPerMinute} chat requests per minute; retry in ${rate.retryAfterSeconds} s`,
      rate.retryAfterSeconds,
    );
  }
  // A completion in a session is the request `prepareCompletion` runs: its one check is
  // here (see above). A WebSocket chat is checked by `prepareChat`.
  const checkHere =
    req.completion !== undefined && !req.completion.stateless && !req.sessionChecked;
  if (checkHere && !(await ownsSession(deps.db, user.userId, req.sessionId))) {
    throw new AppError(ERRORS.NotFound, 'session not found');
  }
  // Before the start: deleting the session from now on cancels this request.
  await trackSessionRequest(deps.redis, req.sessionId, requestId);
  const { config } = deps;
  const input: ChatWorkflowInput = {
    requestId,
    userId: user.userId,
    sessionId: req.sessionId,
    content: req.content,
    model,
    plan: user.plan,
    taskQueues: config.taskQueues,
    settings: chatSettings(config),
    ...(req.method ? { method: req.method } : {}),
    ...(req.completion ? { completion: req.completion } : {}),
  };
  const outcome = await (deps.chatRunner ?? ((i) => startChatWorkflow(deps, i)))(input);
  if (outcome === 'duplicate') {
    if (rate.counted) await limiter.refund(user.userId, requestId);
    return { requestId, duplicate: true };
  }
  return { requestId, duplicate: false };
}

/** The settings a chat workflow gets from config (workflows never read config). */
export function chatSettings(config: Readonly<Config>): ChatSettings {
  return {
    maxHistoryMessages: config.maxHistoryMessages,
    maxCompletionTokens: config.maxCompletionTokens,
    contextSafetyMargin: config.contextSafetyMargin,
    summaryThreshold: config.summaryThreshold,
    summaryMinNewMessages: config.summaryMinNewMessages,
    summaryModel: config.summaryLlm.model,
    summaryMaxTokens: config.summaryMaxTokens,
    llmAttemptTimeoutMs: config.llmAttemptTimeoutMs,
    llmMaxAttempts: config.llmMaxAttempts,
    llmHeartbeatTimeoutMs: config.llmHeartbeatTimeoutMs,
    replyStoreBudgetMs: config.replyStoreBudgetMs,
    toolApprovalTimeoutS: config.toolApprovalTimeoutS,
  };
}

/** The default {@link ApiDeps.chatRunner}: starts the request's chat workflow. */
async function startChatWorkflow(
  deps: ApiDeps,
  input: ChatWorkflowInput,
): Promise<'started' | 'duplicate'> {
  try {
    await deps.temporal.workflow.start<typeof chatWorkflow>('chatWorkflow', {
      taskQueue: deps.config.taskQueues.chat,
      workflowId: chatWorkflowId(input.userId, input.requestId),
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // A request may wait up to TOOL_APPROVAL_TIMEOUT_S for the user's decisions.
      workflowExecutionTimeout: chatExecutionTimeoutMs(deps.config),
      // The server hands the first workflow task to this process's chat worker when it
      // can; otherwise (refused, no free slot) the start is an ordinary one.
      requestEagerStart: deps.eagerStart === true,
    });
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'duplicate';
    throw err;
  }
}

/** True when the user has a request with this id (events kept, or workflow known). */
export async function requestExists(
  deps: ApiDeps,
  userId: string,
  requestId: string,
): Promise<boolean> {
  if (await deps.events.exists(userId, requestId)) return true;
  try {
    await deps.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** Asks the request's workflow to stop; NotFound when the user has no such request. */
export async function cancelChat(deps: ApiDeps, userId: string, requestId: string): Promise<void> {
  try {
    await deps.temporal.workflow.getHandle(chatWorkflowId(userId, requestId)).signal(cancelSignal);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      // Finished workflows cannot take signals; an unknown one does not exist.
      if (await requestExists(deps, userId, requestId)) return;
      throw new AppError(ERRORS.NotFound, 'request not found');
    }
    throw err;
  }
}
