/**
 * Tool calls that wait for the user's approval (docs/API.md "Approving tool calls"), at
 * the workflow layer: the real chat and tool workflows on the real Temporal server,
 * typed fake activities. Approve runs the MCP call, deny and expiry answer the LLM
 * without running it, cancel ends a waiting request, several calls of one reply each
 * wait for their own decision and the approved ones run in parallel; no quota is held
 * while a call waits (the usage so far is settled as a part, then reserved again), and
 * the waiting chat carries the `AwaitingApprovalSince` search attribute.
 * test/stack/mcp.test.ts covers the same through the WebSocket and HTTP contract.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import {
  approvalSignal,
  AWAITING_APPROVAL_SINCE,
  type ApprovalDecision,
  type ApprovalEnd,
} from '../../contracts/approval';
import { cancelSignal } from '../../contracts/chat';
import { addUsage, type LlmToolCall } from '../../contracts/common';
import { ERRORS } from '../../contracts/errors';
import type { McpCallSpec } from '../../contracts/tool';
import { findWaitingChats } from '../../scripts/ops/approvals';
import { runChat, type ChatRun } from '../../testkit/chat-run';
import { eventually } from '../../testkit/poll';
import { LLM_USAGE, useWorkflowEnv, type CallLog, type FakeActivities } from '../../testkit/workflow-env';

const env = useWorkflowEnv();

const MCP: McpCallSpec = { server: 'local', tool: 'send_note', retryable: false, timeoutS: 60 };

function call(id: string, to: string): LlmToolCall {
  return { id, type: 'function', function: { name: 'local__send_note', arguments: JSON.stringify({ to, text: 'hi' }) } };
}

/**
 * The approvals table in memory, with store/approvals.ts's rule: the first write wins
 * (the API's decision, or the workflow's expired/cancelled).
 */
class Rows {
  readonly decisions = new Map<string, ApprovalEnd>();

  fakes(): FakeActivities {
    return {
      openToolApproval: () => Promise.resolve(),
      closeToolApproval: (input) => {
        const prior = this.decisions.get(input.toolCallId);
        if (prior) return Promise.resolve(prior);
        this.decisions.set(input.toolCallId, input.end);
        return Promise.resolve(input.end);
      },
    };
  }

  /** What the API does: write the decision, then signal the workflow. */
  async decide(handle: WorkflowHandle, toolCallId: string, decision: ApprovalDecision, reason?: string) {
    this.decisions.set(toolCallId, decision);
    await handle.signal(approvalSignal, { toolCallId, decision, ...(reason ? { reason } : {}) });
  }
}

/** The LLM asks for `calls` in round 0 and answers in round 1; every call needs approval. */
function mcpFakes(calls: LlmToolCall[], rows: Rows, overrides: FakeActivities = {}): FakeActivities {
  return {
    callLlm: (input) =>
      Promise.resolve(
        input.round === 0
          ? { content: '', toolCalls: calls, finishReason: 'tool_calls', usage: LLM_USAGE }
          : { content: 'Done.', toolCalls: [], finishReason: 'stop', usage: LLM_USAGE },
      ),
    beginToolCall: (input) =>
      Promise.resolve({
        kind: 'task',
        tool: input.call.function.name,
        args: JSON.parse(input.call.function.arguments) as Record<string, unknown>,
        mcp: MCP,
        approval: true,
      }),
    announceToolCall: () => Promise.resolve(),
    callMcpTool: () => Promise.resolve({ result: { content: [{ type: 'text', text: 'sent' }] }, isError: false }),
    ...rows.fakes(),
    ...overrides,
  };
}

/** Waits until `n` calls wait for a decision. */
async function waiting(calls: CallLog, n: number): Promise<void> {
  await eventually(`${n} call(s) waiting`, () => calls.count('openToolApproval') >= n && calls.count('settleUsage') >= 1);
}

async function awaitingSince(handle: WorkflowHandle): Promise<Date | undefined> {
  return (await handle.describe()).typedSearchAttributes.get(AWAITING_APPROVAL_SINCE);
}

function status(run: ChatRun): string {
  return 'result' in run.ended ? run.ended.result.status : `failed: ${run.ended.failure.message}`;
}

function outcomes(calls: CallLog) {
  return Object.fromEntries(calls.of('finishToolCall').map((f) => [f.call.id, f.outcome]));
}

describe('chatWorkflow: tool calls that need approval', () => {
  it('approve: the call waits holding no quota, then runs once, and the LLM answers', async () => {
    const rows = new Rows();
    let marked: Date | undefined;
    const run = await runChat(env, mcpFakes([call('call-1', 'ann')], rows), {
      async during(handle, calls) {
        await waiting(calls, 1);
        marked = await eventually('the search attribute', () => awaitingSince(handle));
        // Operators find it: `npm run ops -- approvals:pending`.
        const listed = await eventually('listed by approvals:pending', async () =>
          (await findWaitingChats(env.client, 0)).find((w) => w.workflowId === handle.workflowId),
        );
        assert.deepEqual(listed.calls.map((c) => [c.toolCallId, c.name]), [['call-1', 'local__send_note']]);
        assert.equal((await findWaitingChats(env.client, 3_600_000)).some((w) => w.workflowId === handle.workflowId), false);
        assert.equal(calls.count('callMcpTool'), 0, 'nothing runs before the decision');
        await rows.decide(handle, 'call-1', 'approve');
      },
    });
    assert.equal(status(run), 'completed');
    assert.ok(marked instanceof Date, 'AwaitingApprovalSince was set while waiting');
    assert.equal(await awaitingSince(run.handle), undefined, 'and removed once nothing waits');
    const { userId, requestId } = run.input;
    assert.deepEqual(run.calls.of('openToolApproval').map((o) => [o.toolCallId, o.name, o.userId, o.requestId]), [
      ['call-1', 'local__send_note', userId, requestId],
    ]);
    assert.equal(run.calls.of('callMcpTool').length, 1);
    assert.deepEqual(run.calls.of('callMcpTool')[0]!.args, { to: 'ann', text: 'hi' });
    assert.equal(run.calls.of('callMcpTool')[0]!.retryable, false);
    assert.equal(run.calls.count('announceToolCall'), 1, 'tool_call is sent once approved');
    assert.deepEqual(outcomes(run.calls)['call-1'], {
      ok: true,
      result: { content: [{ type: 'text', text: 'sent' }] },
    });
    // No quota held while waiting: the first LLM call's usage was settled as a part (which
    // drops the reservation), and quota was reserved again before the next LLM call.
    const settles = run.calls.of('settleUsage');
    assert.deepEqual(
      settles.map((s) => [s.part, s.counted, s.usage.totalTokens]),
      [
        [1, 0, LLM_USAGE.totalTokens],
        [undefined, LLM_USAGE.totalTokens, 2 * LLM_USAGE.totalTokens],
      ],
    );
    assert.equal(run.calls.count('reserveQuota'), 2);
    const names = run.calls.names();
    assert.ok(names.indexOf('settleUsage') < names.lastIndexOf('reserveQuota'), 'released before reserved again');
  });

  it('deny: the call never runs; the LLM reads "denied" with the reason', async () => {
    const rows = new Rows();
    const run = await runChat(env, mcpFakes([call('call-1', 'bob')], rows), {
      async during(handle, calls) {
        await waiting(calls, 1);
        await rows.decide(handle, 'call-1', 'deny', 'not now');
      },
    });
    assert.equal(status(run), 'completed');
    assert.equal(run.calls.count('callMcpTool'), 0);
    assert.equal(run.calls.count('announceToolCall'), 0);
    assert.deepEqual(outcomes(run.calls)['call-1'], {
      ok: false,
      error: 'denied',
      detail: 'the user denied the call: not now',
    });
    const second = run.calls.of('callLlm')[1]!;
    const tool = second.messages.find((m) => m.role === 'tool');
    assert.match(String(tool?.content), /"error":"denied".*not now/);
  });

  it('expiry: not decided within TOOL_APPROVAL_TIMEOUT_S answers "expired"', async () => {
    const rows = new Rows();
    const run = await runChat(env, mcpFakes([call('call-1', 'cy')], rows), {
      input: { settings: { toolApprovalTimeoutS: 1 } },
    });
    assert.equal(status(run), 'completed');
    assert.deepEqual(
      run.calls.of('closeToolApproval').map((c) => c.end),
      ['expired'],
    );
    assert.equal(run.calls.count('callMcpTool'), 0);
    assert.equal(outcomes(run.calls)['call-1']?.error, 'expired');
  });

  it('a decision that raced the expiry wins: the row says approve, the call runs', async () => {
    const rows = new Rows();
    rows.decisions.set('call-1', 'approve'); // written by the API, its signal lost
    const run = await runChat(env, mcpFakes([call('call-1', 'dee')], rows), {
      input: { settings: { toolApprovalTimeoutS: 1 } },
    });
    assert.equal(run.calls.count('callMcpTool'), 1);
    assert.equal(outcomes(run.calls)['call-1']?.ok, true);
  });

  it('cancel while waiting ends the request cancelled, closes the wait, bills the LLM call once', async () => {
    const rows = new Rows();
    const run = await runChat(env, mcpFakes([call('call-1', 'eve')], rows), {
      async during(handle, calls) {
        await waiting(calls, 1);
        await handle.signal(cancelSignal);
      },
    });
    assert.deepEqual(run.ended, {
      result: { status: 'error', code: 'cancelled', message: ERRORS.Cancelled.message },
    });
    assert.deepEqual(run.calls.of('closeToolApproval').map((c) => c.end), ['cancelled']);
    assert.equal(run.calls.count('callMcpTool'), 0);
    assert.deepEqual(outcomes(run.calls)['call-1'], { ok: false, error: 'cancelled' });
    const settles = run.calls.of('settleUsage');
    assert.deepEqual(
      settles.map((s) => [s.part, s.counted ?? 0, s.usage.totalTokens]),
      [
        [1, 0, LLM_USAGE.totalTokens],
        [undefined, LLM_USAGE.totalTokens, LLM_USAGE.totalTokens],
      ],
      'the part counted it; the final settle adds nothing more',
    );
    assert.deepEqual(run.calls.of('recordUsage').map((r) => r.totalTokens), [LLM_USAGE.totalTokens]);
  });

  it('several calls in one reply: each waits for its own decision; approved ones run in parallel', async () => {
    const rows = new Rows();
    let inFlight = 0;
    let peak = 0;
    const run = await runChat(
      env,
      mcpFakes([call('a', 'ann'), call('b', 'bob'), call('c', 'cy')], rows, {
        async callMcpTool() {
          inFlight++;
          peak = Math.max(peak, inFlight);
          // Both approved calls must be running at once for this to return early.
          await eventually('both approved calls running', () => peak >= 2, 10_000).catch(() => undefined);
          inFlight--;
          return { result: { content: [] }, isError: false };
        },
      }),
      {
        async during(handle, calls) {
          await waiting(calls, 3);
          await rows.decide(handle, 'b', 'deny');
          await rows.decide(handle, 'a', 'approve');
          await rows.decide(handle, 'c', 'approve');
        },
      },
    );
    assert.equal(status(run), 'completed');
    assert.equal(run.calls.count('callMcpTool'), 2);
    assert.equal(peak, 2, 'the approved calls ran in parallel');
    const out = outcomes(run.calls);
    assert.equal(out.a?.ok, true);
    assert.equal(out.c?.ok, true);
    assert.equal(out.b?.error, 'denied');
    // One release for the stretch of waiting, one reservation after it.
    assert.equal(run.calls.of('settleUsage').filter((s) => s.part).length, 1);
    assert.equal(run.calls.count('reserveQuota'), 2);
    assert.deepEqual(
      run.calls.of('settleUsage').at(-1)!.usage,
      addUsage(LLM_USAGE, LLM_USAGE),
    );
  });
});
