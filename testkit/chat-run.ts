/**
 * Runs one chat request of the workflow layer's tests (test/workflows/): the real
 * `chatWorkflow` on the real Temporal server, on a worker whose activities are the
 * typed fakes of testkit/workflow-env.ts. Returns how the request ended and every
 * call the fakes received.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { chatWorkflowId, type ChatWorkflowInput, type ChatWorkflowResult } from '../contracts/chat';
import type { TaskQueues } from '../contracts/common';
import type { UsageRecord } from '../contracts/billing';
import type { chatWorkflow } from '../workflows';
import {
  CallLog,
  chatFakes,
  chatInput,
  recorded,
  singleQueue,
  LLM_USAGE,
  SETTLED_AT,
  type FakeActivities,
  type FakeWorker,
  type WorkflowEnv,
} from './workflow-env';

/** How a chat workflow ended: its result, or the failure it failed with. */
export type Ended = { result: ChatWorkflowResult } | { failure: ApplicationFailure };

export interface ChatRun {
  input: ChatWorkflowInput;
  handle: WorkflowHandle<typeof chatWorkflow>;
  calls: CallLog;
  ended: Ended;
}

export interface ChatRunOptions {
  /** The input, past the defaults of `chatInput` (its `settings` merged). */
  input?: Parameters<typeof chatInput>[1];
  /** Queues of the request (default: one queue for all, served by the chat worker). */
  taskQueues?: TaskQueues;
  /** More workers (e.g. the billing queue's), running alongside the chat worker. */
  others?: readonly FakeWorker[];
  /** Runs while the request runs, e.g. to cancel it once a fake has started. */
  during?: (handle: WorkflowHandle<typeof chatWorkflow>, calls: CallLog) => Promise<unknown>;
}

/** Runs one chat request whose activities are {@link chatFakes} with `fakes` over them. */
export async function runChat(
  env: WorkflowEnv,
  fakes: FakeActivities,
  options: ChatRunOptions = {},
): Promise<ChatRun> {
  const taskQueues = options.taskQueues ?? singleQueue();
  const input = chatInput(taskQueues, options.input);
  const calls = new CallLog();
  const chatWorker = { taskQueue: taskQueues.chat, activities: recorded(chatFakes(fakes), calls) };
  const handle = await env.withWorkers([chatWorker, ...(options.others ?? [])], async () => {
    const h = await env.client.workflow.start<typeof chatWorkflow>('chatWorkflow', {
      taskQueue: taskQueues.chat,
      workflowId: chatWorkflowId(input.userId, input.requestId),
      args: [input],
    });
    await options.during?.(h, calls);
    await h.result().catch(() => undefined);
    return h;
  });
  return { input, handle, calls, ended: await ending(handle) };
}

async function ending(handle: WorkflowHandle<typeof chatWorkflow>): Promise<Ended> {
  try {
    return { result: await handle.result() };
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, `the workflow failed: ${String(err)}`);
    assert.ok(
      err.cause instanceof ApplicationFailure,
      `an application failure: ${String(err.cause)}`,
    );
    return { failure: err.cause };
  }
}

/** The error event the request sent (its code), or undefined when it sent none. */
export function errorEvent(calls: CallLog): { code: string; message: string } | undefined {
  const errors = calls.of('emitEvent').filter((e) => e.event.type === 'error');
  assert.ok(errors.length <= 1, 'at most one error event');
  const event = errors[0]?.event;
  return event?.type === 'error' ? { code: event.code, message: event.message } : undefined;
}

/** The ledger record a run with the default fakes bills: its ids, the fake LLM's usage, the fake settle time. */
export function expectedRecord(input: ChatWorkflowInput): UsageRecord {
  const { userId, requestId, sessionId, model } = input;
  return { userId, requestId, sessionId, model, ...LLM_USAGE, createdAt: SETTLED_AT };
}
