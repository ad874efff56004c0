/**
 * A bench-only {@link ApiDeps.chatRunner} that runs a chat request's steps in this
 * process, without Temporal: the same activities, in the same order, with the same
 * inputs as workflows/chat.ts (prepareChat -> reserveQuota -> callLlm -> settleUsage
 * -> saveReply with the ledger row), so that a benchmark comparing it with the workflow
 * measures what the orchestration costs and nothing else.
 *
 * Only the no-tool path: a reply that asks for tools fails the request. No retries, no
 * cancel, no summarisation (benchmarks turn it off), no durability: never use it
 * outside benchmarks.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApiDeps } from '../api/deps';
import type { Activities } from '../activities';
import { NO_USAGE, type TokenUsage } from '../contracts/common';
import { TOOL_NAMES } from '../contracts/tool';
import type { ChatWorkflowInput } from '../contracts/chat';
import { errorSpecForType, FAILURE_TYPES, failure, failureType } from '../contracts/errors';

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

/** One request, as chatWorkflow runs it. */
async function runChat(acts: Activities, input: ChatWorkflowInput): Promise<void> {
  const ids = { requestId: input.requestId, userId: input.userId };
  let reserved: { dailyLimit: number } | undefined;
  try {
    const prepared = await acts.prepareChat({
      ...ids,
      sessionId: input.sessionId,
      content: input.content,
      model: input.model,
      settings: input.settings,
    });
    reserved = await acts.reserveQuota({
      ...ids,
      plan: input.plan,
      amount: prepared.promptTokens + input.settings.maxCompletionTokens,
    });
    // callLlm reads its Temporal activity context (attempt, heartbeat, cancellation).
    const reply = await inActivity(acts.callLlm, {
      ...ids,
      model: input.model,
      messages: prepared.messages,
      maxTokens: input.settings.maxCompletionTokens,
      round: 0,
      tools: TOOL_NAMES,
    });
    if (reply.toolCalls.length > 0) {
      throw failure(FAILURE_TYPES.Internal, 'tool calls are not supported in-process', {
        nonRetryable: true,
      });
    }
    const settled = await settle(acts, input, reply.usage, reserved.dailyLimit);
    // As chatWorkflow: the reply and its ledger row in one step, then `done`.
    await acts.saveReply({
      ...ids,
      sessionId: input.sessionId,
      model: input.model,
      content: reply.content,
      usage: reply.usage,
      ledger: {
        ...ids,
        sessionId: input.sessionId,
        model: input.model,
        ...reply.usage,
        createdAt: settled.settledAt,
      },
    });
  } catch (err) {
    const spec = errorSpecForType(failureType(err));
    if (reserved) await settle(acts, input, NO_USAGE, reserved.dailyLimit).catch(() => undefined);
    await acts.emitEvent({
      ...ids,
      event: { type: 'error', code: spec.code, message: spec.message },
    });
    throw err;
  }
}

/** Runs an activity that reads its Temporal context (attempt 1, never cancelled). */
function inActivity<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
  return new MockActivityEnvironment().run<[I], O, (input: I) => Promise<O>>(fn, input);
}

function settle(acts: Activities, input: ChatWorkflowInput, usage: TokenUsage, dailyLimit: number) {
  return acts.settleUsage({
    userId: input.userId,
    requestId: input.requestId,
    sessionId: input.sessionId,
    model: input.model,
    plan: input.plan,
    usage,
    dailyLimit,
  });
}
