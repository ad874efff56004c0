/**
 * chatWorkflow's orchestration, fast: the real workflow on the real Temporal server, its
 * activities typed fakes (testkit/workflow-env.ts). Covers how activity failures
 * map to the contract's errors (retried or not, by FAILURE_TYPES), the quota refusal,
 * and that usage is settled exactly once on success, LLM failure and cancel. The same
 * behaviours through the public contract are in the e2e files (test/stack/*.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { billingWorkflowId } from '../../contracts/billing';
import { cancelSignal } from '../../contracts/chat';
import type { LlmToolCall, TokenUsage } from '../../contracts/common';
import {
  ERRORS,
  FAILURE_TYPES,
  failure,
  type ErrorCode,
  type FailureType,
} from '../../contracts/errors';
import { errorEvent, expectedRecord, runChat, type Ended } from '../../testkit/chat-run';
import { eventually } from '../../testkit/poll';
import {
  chatFakes,
  LLM_USAGE,
  SETTLED_AT,
  useWorkflowEnv,
  type FakeActivities,
} from '../../testkit/workflow-env';
import type { Activities } from '../../activities';

const env = useWorkflowEnv();

const ZERO: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0, estimated: false };

/** The code a request ended with (`completed`, or its result's error code), or the type its workflow failed with. */
function endedWith(ended: Ended): ErrorCode | FailureType | 'completed' {
  if ('failure' in ended) return ended.failure.type as FailureType;
  return ended.result.status === 'completed' ? 'completed' : ended.result.code;
}

describe('chatWorkflow: the happy path', () => {
  it('prepares, reserves, calls the LLM, settles, then stores the reply with its ledger row', async () => {
    const run = await runChat(env, {});
    assert.deepEqual(run.ended, {
      // The result carries the reply: the API writes `done` from it if Redis lost the events.
      result: { status: 'completed', messageId: 'reply-1', usage: LLM_USAGE, content: 'Hello!' },
    });
    assert.deepEqual(run.calls.names(), [
      'prepareChat',
      'reserveQuota',
      'callLlm',
      'settleUsage',
      'saveReply',
    ]);
    const { settings } = run.input;
    assert.equal(
      run.calls.of('reserveQuota')[0]!.amount,
      12 + settings.maxCompletionTokens,
      'prompt + completion budget',
    );
    assert.deepEqual(run.calls.of('settleUsage')[0]!.usage, LLM_USAGE);
    assert.deepEqual(run.calls.of('saveReply')[0]!.ledger, expectedRecord(run.input));
  });
});

describe('chatWorkflow: activity failures map to the contract by failure type', () => {
  const llmFails = (err: Error): FakeActivities => ({ callLlm: () => Promise.reject(err) });
  const cases: Array<{
    name: string;
    fakes: FakeActivities;
    /** Every activity call, in order: retries show as repeated calls. */
    calls: Array<keyof Activities>;
    /** What the client is told (the `error` event's code), or `completed`. */
    code: ErrorCode | 'completed';
    /** A system failure also fails the workflow (operators see it), with this type. */
    failsWith?: FailureType;
    /** The usage settled (once), when the request had reserved quota. */
    settled?: TokenUsage;
  }> = [
    {
      name: 'a retryable LLM failure (LlmTransient) is retried llmMaxAttempts times, then fails the workflow as LlmUnavailable',
      fakes: llmFails(failure(FAILURE_TYPES.LlmTransient, 'HTTP 500 from the LLM')),
      calls: ['prepareChat', 'reserveQuota', 'callLlm', 'callLlm', 'settleUsage', 'emitEvent'],
      code: 'llm_unavailable',
      failsWith: FAILURE_TYPES.LlmUnavailable,
      settled: ZERO,
    },
    {
      name: 'an LLM failure of no catalogued type (a bug, a socket error) is retried, then LlmUnavailable too',
      fakes: llmFails(new Error('socket hang up')),
      calls: ['prepareChat', 'reserveQuota', 'callLlm', 'callLlm', 'settleUsage', 'emitEvent'],
      code: 'llm_unavailable',
      failsWith: FAILURE_TYPES.LlmUnavailable,
      settled: ZERO,
    },
    {
      name: 'ContextTooLarge is in NON_RETRYABLE: one attempt even when thrown retryable, then context_too_large',
      fakes: llmFails(failure(FAILURE_TYPES.ContextTooLarge, 'too long', { nonRetryable: false })),
      calls: ['prepareChat', 'reserveQuota', 'callLlm', 'settleUsage', 'emitEvent'],
      code: 'context_too_large',
      settled: ZERO,
    },
    {
      name: "a local activity's non-retryable failure (NotFound) keeps its code; nothing reserved, nothing settled",
      fakes: {
        prepareChat: () =>
          Promise.reject(
            failure(FAILURE_TYPES.NotFound, 'no such session', { nonRetryable: true }),
          ),
      },
      calls: ['prepareChat', 'emitEvent'],
      code: 'not_found',
    },
    {
      name: "a local activity's retryable failure is retried in place and the request completes",
      fakes: (() => {
        const happy = chatFakes().prepareChat!;
        let attempt = 0;
        return {
          prepareChat: (input) =>
            ++attempt === 1
              ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))
              : happy(input),
        } satisfies FakeActivities;
      })(),
      calls: ['prepareChat', 'prepareChat', 'reserveQuota', 'callLlm', 'settleUsage', 'saveReply'],
      code: 'completed',
      settled: LLM_USAGE,
    },
    {
      name: 'a non-retryable BadRequest from the reply step: one attempt, bad_request, and the failure path bills the LLM call',
      fakes: {
        saveReply: () =>
          Promise.reject(
            failure(FAILURE_TYPES.BadRequest, 'the data cannot be stored', { nonRetryable: true }),
          ),
      },
      calls: [
        'prepareChat',
        'reserveQuota',
        'callLlm',
        'settleUsage',
        'saveReply',
        'emitEvent',
        'recordUsage',
      ],
      code: 'bad_request',
      settled: LLM_USAGE,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const run = await runChat(env, c.fakes);
      assert.equal(endedWith(run.ended), c.failsWith ?? c.code);
      assert.deepEqual(run.calls.names(), c.calls);
      assert.equal(errorEvent(run.calls)?.code, c.code === 'completed' ? undefined : c.code);
      assert.deepEqual(
        run.calls.of('settleUsage').map((s) => s.usage),
        c.settled ? [c.settled] : [],
      );
      // A ledger row written on the failure path is the record the reply step had.
      for (const record of run.calls.of('recordUsage'))
        assert.deepEqual(record, run.calls.of('saveReply')[0]?.ledger);
    });
  }
});

describe('chatWorkflow: quota refusal', () => {
  it('ends quota_exceeded with the refusal message, calls no LLM and bills nothing', async () => {
    const refusal = `${ERRORS.QuotaExceeded.message}. Used today: 49990 of 50000 tokens; resets at 2026-01-03T00:00:00.000Z.`;
    const run = await runChat(env, {
      reserveQuota: () =>
        Promise.reject(
          failure(FAILURE_TYPES.QuotaExceeded, refusal, {
            nonRetryable: true,
            details: [{ scope: 'daily' }],
          }),
        ),
    });
    assert.deepEqual(run.ended, {
      result: { status: 'error', code: 'quota_exceeded', message: refusal },
    });
    assert.deepEqual(errorEvent(run.calls), { code: 'quota_exceeded', message: refusal });
    // The reservation is released with zero usage; no LLM call, no ledger row, no billing child.
    assert.deepEqual(run.calls.names(), [
      'prepareChat',
      'reserveQuota',
      'settleUsage',
      'emitEvent',
    ]);
    assert.deepEqual(run.calls.of('settleUsage')[0]!.usage, ZERO);
    await assert.rejects(
      env.client.workflow
        .getHandle(billingWorkflowId(run.input.userId, run.input.requestId))
        .describe(),
      WorkflowNotFoundError,
    );
  });
});

describe('chatWorkflow: usage is settled exactly once, whatever the ending', () => {
  const calculatorCall: LlmToolCall = {
    id: 'c1',
    type: 'function',
    function: { name: 'calculator', arguments: '{"expression":"6*7"}' },
  };

  it('LLM failure after a tool round: settles and bills the first round, then fails LlmUnavailable', async () => {
    const run = await runChat(env, {
      callLlm: (input) =>
        input.round === 0
          ? Promise.resolve({
              content: '',
              toolCalls: [calculatorCall],
              finishReason: 'tool_calls',
              usage: LLM_USAGE,
            })
          : Promise.reject(failure(FAILURE_TYPES.LlmTransient, 'HTTP 503 from the LLM')),
      beginToolCall: () => Promise.resolve({ kind: 'done', outcome: { ok: true, result: 42 } }),
    });
    assert.equal(endedWith(run.ended), FAILURE_TYPES.LlmUnavailable);
    assert.deepEqual(run.calls.names(), [
      'prepareChat',
      'reserveQuota',
      'callLlm',
      'saveToolCalls',
      'beginToolCall',
      'callLlm',
      'callLlm',
      'settleUsage',
      'emitEvent',
      'recordUsage',
    ]);
    assert.deepEqual(
      run.calls.of('settleUsage')[0]!.usage,
      LLM_USAGE,
      'what the successful round reported',
    );
    assert.deepEqual(run.calls.of('recordUsage')[0], {
      userId: run.input.userId,
      requestId: run.input.requestId,
      sessionId: run.input.sessionId,
      model: run.input.model,
      ...LLM_USAGE,
      createdAt: SETTLED_AT,
    });
    assert.equal(errorEvent(run.calls)?.code, 'llm_unavailable');
  });

  it('cancel during the LLM call: the call is cancelled, the reservation settled with zero, nothing billed', async () => {
    let sawCancel = false;
    const run = await runChat(
      env,
      {
        async callLlm() {
          const ctx = Context.current();
          try {
            for (;;) {
              ctx.heartbeat();
              await ctx.sleep(100);
            }
          } catch (err) {
            sawCancel = true;
            throw err;
          }
        },
      },
      {
        async during(handle, calls) {
          await eventually('the LLM call started', () => calls.count('callLlm') === 1);
          await handle.signal(cancelSignal);
          await eventually('the LLM activity saw the cancellation', () => sawCancel);
        },
      },
    );
    assert.deepEqual(run.ended, {
      result: { status: 'error', code: 'cancelled', message: ERRORS.Cancelled.message },
    });
    assert.deepEqual(run.calls.names(), [
      'prepareChat',
      'reserveQuota',
      'callLlm',
      'settleUsage',
      'emitEvent',
    ]);
    assert.deepEqual(run.calls.of('settleUsage')[0]!.usage, ZERO);
    assert.equal(errorEvent(run.calls)?.code, 'cancelled');
  });
});
