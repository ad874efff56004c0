/**
 * A long-running tool inside a chat request, fast (real chat and tool workflows, real
 * Temporal server, typed fake activities): the chat's `cancel` reaches the tool's
 * activity through the child `toolWorkflow`, the call's end is recorded and the usage
 * settled; a tool's failure is an answer the LLM reads, not a failure of the request;
 * a tool's own LLM usage joins the request's. test/stack/tools.test.ts covers the same
 * through the WebSocket contract (progress frames, task endpoints, a killed worker).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import { cancelSignal } from '../../contracts/chat';
import {
  toolMessageContent,
  toolStateQuery,
  toolWorkflowId,
  type ToolState,
} from '../../contracts/tool';
import { type LlmToolCall, addUsage, type TokenUsage } from '../../contracts/common';
import { ERRORS, FAILURE_TYPES, failure } from '../../contracts/errors';
import { runChat } from '../../testkit/chat-run';
import { eventually } from '../../testkit/poll';
import {
  LLM_USAGE,
  SETTLED_AT,
  useWorkflowEnv,
  type FakeActivities,
} from '../../testkit/workflow-env';

const env = useWorkflowEnv();

const ARGS = { text: 'a long document', chunkTokens: 40 };
const CALL: LlmToolCall = {
  id: 'call-1',
  type: 'function',
  function: { name: 'summarize_document', arguments: JSON.stringify(ARGS) },
};

/** The LLM asks for the tool in round 0 and answers in round 1; the tool is `summarizeDocument`. */
function toolFakes(summarizeDocument: Activities['summarizeDocument']): FakeActivities {
  return {
    callLlm: (input) =>
      Promise.resolve(
        input.round === 0
          ? { content: '', toolCalls: [CALL], finishReason: 'tool_calls', usage: LLM_USAGE }
          : {
              content: 'Here is the summary.',
              toolCalls: [],
              finishReason: 'stop',
              usage: LLM_USAGE,
            },
      ),
    beginToolCall: () => Promise.resolve({ kind: 'task', tool: 'summarize_document', args: ARGS }),
    summarizeDocument,
  };
}

describe('chatWorkflow + toolWorkflow', () => {
  it('cancel during a tool reaches its activity, records the call as cancelled, settles and bills the LLM call', async () => {
    let sawCancel = false;
    let task: ToolState | undefined;
    const run = await runChat(
      env,
      toolFakes(async () => {
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat({ progress: 25, message: 'summarising chunk 2 of 4', checkpoint: null });
            await ctx.sleep(100);
          }
        } catch (err) {
          if (!(err instanceof CancelledFailure)) throw err;
          sawCancel = true;
          throw new CancelledFailure('cancelled', [{ progress: 25, message: 'cancelled at 25%' }]);
        }
      }),
      {
        async during(handle, calls) {
          await eventually('the tool is running', () => calls.count('summarizeDocument') === 1);
          await handle.signal(cancelSignal);
          await handle.result();
          // The closed task still answers its state (while a worker is there to replay it).
          task = await env.client.workflow
            .getHandle(calls.of('beginToolCall')[0]!.taskId)
            .query(toolStateQuery);
        },
      },
    );
    assert.deepEqual(run.ended, {
      result: { status: 'error', code: 'cancelled', message: ERRORS.Cancelled.message },
    });
    assert.ok(sawCancel, 'the cancellation reached the activity before the request ended');
    assert.deepEqual(run.calls.names(), [
      'prepareChat',
      'reserveQuota',
      'callLlm',
      'saveToolCalls',
      'beginToolCall',
      'summarizeDocument', // in the child toolWorkflow
      'recordToolOutcome', // the child records how the tool ended
      'finishToolCall', // the chat records the call's end: the history never holds an unanswered call
      'settleUsage',
      'emitEvent',
      'recordUsage',
    ]);
    const { userId, requestId, sessionId, model } = run.input;
    const taskId = toolWorkflowId(userId, requestId, CALL.id);
    assert.deepEqual(run.calls.of('summarizeDocument'), [
      { taskId, userId, requestId, model, args: ARGS },
    ]);
    assert.equal(run.calls.of('recordToolOutcome')[0]!.status, 'cancelled');
    assert.deepEqual(run.calls.of('finishToolCall')[0]!.outcome, { ok: false, error: 'cancelled' });
    assert.equal(run.calls.of('finishToolCall')[0]!.taskId, taskId);
    // The LLM call that asked for the tool is billed although the request was cancelled.
    assert.deepEqual(
      run.calls.of('settleUsage').map((s) => s.usage),
      [LLM_USAGE],
    );
    assert.deepEqual(run.calls.of('recordUsage'), [
      { userId, requestId, sessionId, model, ...LLM_USAGE, createdAt: SETTLED_AT },
    ]);
    assert.deepEqual(run.calls.of('emitEvent')[0]!.event, {
      type: 'error',
      code: 'cancelled',
      message: ERRORS.Cancelled.message,
    });

    const child = await env.client.workflow.getHandle(taskId).describe();
    assert.equal(child.status.name, 'CANCELLED');
    assert.equal(child.parentExecution?.workflowId, run.handle.workflowId);
    assert.deepEqual(
      {
        status: task?.status,
        progress: task?.progress,
        message: task?.message,
        error: task?.error,
      },
      { status: 'cancelled', progress: 25, message: 'cancelled at 25%', error: 'cancelled' },
    );
  });

  it("a tool's failure is an answer the LLM reads: one attempt for a non-retryable type, and the request completes", async () => {
    const run = await runChat(
      env,
      toolFakes(() =>
        Promise.reject(failure(FAILURE_TYPES.InvalidToolArguments, 'chunkTokens is too small')),
      ),
    );
    assert.equal('result' in run.ended && run.ended.result.status, 'completed');
    assert.equal(run.calls.count('summarizeDocument'), 1, 'InvalidToolArguments is never retried');
    assert.equal(run.calls.of('recordToolOutcome')[0]!.status, 'error');
    const outcome = { ok: false, error: 'the tool failed: chunkTokens is too small' };
    assert.deepEqual(run.calls.of('finishToolCall')[0]!.outcome, outcome);
    const answered = run.calls.of('callLlm')[1]!.messages.at(-1);
    assert.deepEqual(answered, {
      role: 'tool',
      content: toolMessageContent(outcome),
      tool_call_id: CALL.id,
    });
    const { userId, requestId } = run.input;
    const child = await env.client.workflow
      .getHandle(toolWorkflowId(userId, requestId, CALL.id))
      .describe();
    assert.equal(child.status.name, 'FAILED');
  });

  it("a tool's own LLM usage is added to the request's, and its result goes to the next LLM round", async () => {
    const toolUsage: TokenUsage = {
      promptTokens: 300,
      completionTokens: 40,
      totalTokens: 340,
      estimated: true,
    };
    const result = { summary: 'A short summary.', chunks: 3 };
    const run = await runChat(
      env,
      toolFakes(() => Promise.resolve({ ...result, usage: toolUsage })),
    );
    const total = addUsage(addUsage(LLM_USAGE, toolUsage), LLM_USAGE);
    assert.deepEqual(run.ended, {
      result: {
        status: 'completed',
        messageId: 'reply-1',
        usage: total,
        content: 'Here is the summary.',
      },
    });
    assert.deepEqual(
      run.calls.of('settleUsage').map((s) => s.usage),
      [total],
      'settled once, with every part',
    );
    assert.equal(run.calls.of('recordToolOutcome')[0]!.status, 'ok');
    assert.deepEqual(run.calls.of('finishToolCall')[0]!.outcome, { ok: true, result });
    const answered = run.calls.of('callLlm')[1]!.messages.at(-1);
    assert.deepEqual(answered, {
      role: 'tool',
      content: JSON.stringify(result),
      tool_call_id: CALL.id,
    });
  });
});
