/**
 * A bench-only {@link ApiDeps.chatRunner} that runs a chat request's steps in this
 * process, without Temporal: the same activities, in the same order, with inputs built
 * by the same functions as workflows/chat.ts (workflows/steps.ts: prepareChat ->
 * reserveQuota -> callLlm -> settleUsage -> saveReply with the ledger row), so that a benchmark comparing it with the workflow
 * measures what the orchestration costs and nothing else.
 *
 * Only the no-tool path: a reply that asks for tools fails the request. No retries, no
 * cancel, no summarisation (benchmarks turn it off), no durability: never use it
 * outside benchmarks.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApiDeps } from '../api/deps';
import type { Activities } from '../activities';
import { NO_USAGE } from '../contracts/common';
import type { ChatWorkflowInput } from '../contracts/chat';
import { errorSpecForType, FAILURE_TYPES, failure, failureType } from '../contracts/errors';
import {
  callLlmInput,
  prepareChatInput,
  reserveQuotaInput,
  saveReplyInput,
  settleUsageInput,
} from '../workflows/steps';

/** The runner, and a way to wait until every request it started has ended. */
export interface InProcessRunner {
  run: NonNullable<ApiDeps['chatRunner']>;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Requests that ended with an `error` event. */
  failures: number;
}

const MAX_REMEMBERED = 100_000;

/** Creates a runner over `acts` (createActivities of the bench's own deps). */
export function createInProcessRunner(acts: Activities): InProcessRunner {
  const seen = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const runner: InProcessRunner = {
    failures: 0,
    run(input) {
      const key = `${input.userId}:${input.requestId}`;
      if (seen.has(key)) return Promise.resolve('duplicate');
      if (seen.size >= MAX_REMEMBERED) seen.clear();
      seen.add(key);
      const track = (p: Promise<void>) => {
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      };
      track(
        runChat(acts, input).catch(() => {
          runner.failures++;
        }),
      );
      return Promise.resolve('started');
    },
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
  return runner;
}

/** One request, as chatWorkflow runs it: its steps, with inputs built by workflows/steps.ts. */
async function runChat(acts: Activities, input: ChatWorkflowInput): Promise<void> {
  let reserved: { dailyLimit: number } | undefined;
  try {
    const prepared = await acts.prepareChat(prepareChatInput(input));
    reserved = await acts.reserveQuota(reserveQuotaInput(input, prepared.promptTokens));
    // callLlm reads its Temporal activity context (attempt, heartbeat, cancellation).
    const reply = await inActivity(acts.callLlm, callLlmInput(input, prepared.messages, 0, true));
    if (reply.toolCalls.length > 0) {
      throw failure(FAILURE_TYPES.Internal, 'tool calls are not supported in-process', {
        nonRetryable: true,
      });
    }
    const settled = await acts.settleUsage(
      settleUsageInput(input, reply.usage, reserved.dailyLimit),
    );
    // As chatWorkflow: the reply and its ledger row in one step, then `done`.
    await acts.saveReply(saveReplyInput(input, reply, settled.settledAt));
  } catch (err) {
    const spec = errorSpecForType(failureType(err));
    if (reserved) {
      await acts
        .settleUsage(settleUsageInput(input, NO_USAGE, reserved.dailyLimit))
        .catch(() => undefined);
    }
    await acts.emitEvent({
      requestId: input.requestId,
      userId: input.userId,
      event: { type: 'error', code: spec.code, message: spec.message },
    });
    throw err;
  }
}

/** Runs an activity that reads its Temporal context (attempt 1, never cancelled). */
function inActivity<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return new MockActivityEnvironment().run<[I], O, (input: I) => Promise<O>>(fn, input);
}
