/**
 * Every followed request ends, even when Redis no longer holds its events.
 *
 * A request's frames come from its Redis stream, which the workflow's steps write. Three
 * things can leave a follower (a resumed WebSocket, an Idempotency-Key replay) waiting on
 * a stream that will never get its terminal event: Redis lost the keys after the last
 * write (a restart or flush just after `done`), the events expired (`EVENT_TTL_SECONDS`)
 * while Temporal still keeps the workflow, or the workflow closed without writing one
 * (terminated by an operator, or past its execution timeout).
 *
 * The API then writes the end itself, from the workflow's outcome: a completed chat's
 * result carries what `done` carries; an error result, a failure, a cancellation, a
 * termination or a timeout becomes one `error`. The append script keeps the contract: a
 * request that already has its terminal event refuses a second one (whichever API process
 * is first wins), and a `done` written into a lost log is preceded by `restart` and the
 * full text, like any write that finds the log gone.
 *
 * Checks are cheap and rare: one Redis round trip every {@link CHECK_EVERY_MS} per
 * followed request that got no event meanwhile, and a Temporal `describe` only when the
 * log is missing or has been silent for {@link SILENT_MS}.
 */
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { chatWorkflowId, type ChatWorkflowResult } from '../contracts/chat';
import { ERRORS, errorSpecForType, failureType, type ErrorSpec } from '../contracts/errors';
import type { RequestEvent } from '../contracts/protocol';
import { lostTextRecovery, requestKeys } from '../store/event-log';
import type { ApiDeps } from './deps';

/** How often a follower's request is checked. */
export const CHECK_EVERY_MS = 2000;
/** A log that has had no event for this long is checked against its workflow. */
export const SILENT_MS = 10_000;

/** Workflow states that are final; any other (running, continued) still writes its own end. */
const CLOSED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/**
 * Watches a followed request until it ends; `lastEventAt` says when the follower last
 * got an event. Returns the function that stops watching (call it on the terminal
 * event or when the follower goes away).
 */
export function watchRequestEnd(
  deps: ApiDeps,
  userId: string,
  requestId: string,
  lastEventAt: () => number,
): () => void {
  let stopped = false;
  let busy = false;
  const timer = setInterval(() => {
    // While events flow the request is plainly alive: no check costs anything then.
    if (busy || stopped || Date.now() - lastEventAt() < CHECK_EVERY_MS) return;
    busy = true;
    checkOnce(deps, userId, requestId, lastEventAt())
      .then((settled) => {
        if (settled) stop();
      })
      .catch((err: unknown) => deps.logger.warn('request end check failed', { err, requestId }))
      .finally(() => (busy = false));
  }, CHECK_EVERY_MS);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}

/** One check; true when the request has its terminal event (nothing more to watch). */
async function checkOnce(
  deps: ApiDeps,
  userId: string,
  requestId: string,
  lastEventAt: number,
): Promise<boolean> {
  const k = requestKeys(userId, requestId);
  const [ended, present] = await Promise.all([
    deps.redis.exists(k.end),
    deps.redis.exists(k.stream),
  ]);
  if (ended === 1) return true;
  if (present === 1 && Date.now() - lastEventAt < SILENT_MS) return false;
  return writeEndIfClosed(deps, userId, requestId);
}

/**
 * Writes the request's terminal event from its workflow's outcome when the workflow has
 * closed; false while it runs (its own steps will write the end).
 */
export async function writeEndIfClosed(
  deps: ApiDeps,
  userId: string,
  requestId: string,
): Promise<boolean> {
  const handle = deps.temporal.workflow.getHandle<() => Promise<ChatWorkflowResult>>(
    chatWorkflowId(userId, requestId),
  );
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    // Gone past retention, or a request run without Temporal (the in-process benchmark):
    // there is no outcome to write from.
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
  if (!CLOSED.has(status)) return false;
  const end = await outcomeEvents(status, () => handle.result());
  const terminal = end.at(-1)!;
  await deps.events.write(userId, requestId, terminal, { ifLost: end.slice(0, -1) });
  deps.logger.info('request end written from its workflow outcome', {
    requestId,
    status,
    type: terminal.type,
  });
  return true;
}

/** The events that end a request whose workflow closed with `status`: the last is terminal. */
async function outcomeEvents(
  status: string,
  result: () => Promise<ChatWorkflowResult>,
): Promise<RequestEvent[]> {
  const error = (spec: ErrorSpec, message = spec.message): RequestEvent[] => [
    { type: 'error', code: spec.code, message },
  ];
  switch (status) {
    case 'COMPLETED': {
      const r = await result();
      if (r.status === 'error') return [{ type: 'error', code: r.code, message: r.message }];
      // Results of workflows started before replies were carried in the result have no content.
      if (r.content === undefined)
        return error(ERRORS.Internal, 'the reply is no longer available; see the session');
      const done: RequestEvent = {
        type: 'done',
        messageId: r.messageId,
        content: r.content,
        ...(r.toolCalls ? { toolCalls: r.toolCalls } : {}),
        ...(r.finishReason ? { finishReason: r.finishReason } : {}),
      };
      return [...lostTextRecovery(r.content), done];
    }
    case 'FAILED':
      try {
        await result();
      } catch (err) {
        // The workflow fails with the catalogued type of its error (LlmUnavailable, Internal).
        return error(
          errorSpecForType(err instanceof WorkflowFailedError ? failureType(err.cause) : undefined),
        );
      }
      return error(ERRORS.Internal);
    case 'CANCELLED':
      return error(ERRORS.Cancelled);
    default: // TERMINATED, TIMED_OUT
      return error(ERRORS.Internal, 'the request was stopped before it could finish');
  }
}
