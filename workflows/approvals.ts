/**
 * Approvals inside the chat workflow (docs/API.md "Approving tool calls"): a tool call
 * that needs the user's yes waits here, durably, in the workflow's own history, for as
 * long as `TOOL_APPROVAL_TIMEOUT_S`: a restart of any process (API, workers, Temporal)
 * only replays it.
 *
 * The wait: record the call and tell the client (`openToolApproval`), then wait for
 * `approvalSignal` or the timeout (`condition`), then read the call's final decision
 * (`closeToolApproval`): the API writes a decision to Postgres before it signals, so
 * the row decides, also when a decision races the expiry. Cancelling the request ends
 * the wait; the row then reads `cancelled`.
 *
 * While any call waits the workflow carries the `AwaitingApprovalSince` search
 * attribute, and `beforeFirstWait` runs once per stretch of waiting (the chat workflow
 * releases its quota reservation there: no quota is held while a call waits).
 */
import {
  CancellationScope,
  condition,
  isCancellation,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  approvalSignal,
  AWAITING_APPROVAL_SINCE,
  DEFAULT_TOOL_APPROVAL_TIMEOUT_S,
  pendingApprovalsQuery,
  type ApprovalEnd,
  type WaitingCall,
} from '../contracts/approval';
import type { ChatWorkflowInput } from '../contracts/chat';
import type { LlmToolCall } from '../contracts/common';
import type { ToolOutcome } from '../contracts/tool';
import { fast } from './proxies';

export class ApprovalDesk {
  private readonly signaled = new Set<string>();
  private readonly reasons = new Map<string, string>();
  private readonly pending = new Map<string, WaitingCall>();
  private waiting = 0;

  constructor(
    private readonly input: ChatWorkflowInput,
    private readonly beforeFirstWait: () => Promise<void>,
  ) {
    setHandler(approvalSignal, (s) => {
      this.signaled.add(s.toolCallId);
      if (s.reason) this.reasons.set(s.toolCallId, s.reason.slice(0, 1000));
    });
    setHandler(pendingApprovalsQuery, () => [...this.pending.values()]);
  }

  /**
   * Waits for the user's decision on `call`. Returns undefined when it was approved,
   * else the outcome to report (`denied` with the reason, or `expired`). Cancellation
   * of the request is rethrown once the wait is closed as `cancelled`.
   */
  async decide(call: LlmToolCall): Promise<ToolOutcome | undefined> {
    const { userId, requestId, sessionId, settings } = this.input;
    const timeoutS = settings.toolApprovalTimeoutS ?? DEFAULT_TOOL_APPROVAL_TIMEOUT_S;
    const key = { userId, requestId, toolCallId: call.id };
    const waiting: WaitingCall = {
      toolCallId: call.id,
      name: call.function.name,
      expiresAt: new Date(Date.now() + timeoutS * 1000).toISOString(),
    };
    await fast.openToolApproval({
      ...key,
      sessionId,
      name: waiting.name,
      arguments: call.function.arguments,
      expiresAt: waiting.expiresAt,
      waitSeconds: timeoutS,
    });
    this.pending.set(call.id, waiting);
    await this.enter();
    let end: ApprovalEnd;
    try {
      await condition(() => this.signaled.has(call.id), timeoutS * 1000);
      end = await fast.closeToolApproval({ ...key, end: 'expired' });
    } catch (err) {
      if (isCancellation(err)) {
        await CancellationScope.nonCancellable(() => fast.closeToolApproval({ ...key, end: 'cancelled' }));
      }
      throw err;
    } finally {
      this.pending.delete(call.id);
      this.leave();
    }
    switch (end) {
      case 'approve':
        return undefined;
      case 'deny': {
        const reason = this.reasons.get(call.id);
        return { ok: false, error: 'denied', detail: reason ? `the user denied the call: ${reason}` : 'the user denied the call' };
      }
      case 'expired':
        return { ok: false, error: 'expired', detail: `the user did not decide within ${timeoutS} s` };
      default:
        return { ok: false, error: 'cancelled' };
    }
  }

  private async enter(): Promise<void> {
    if (this.waiting++ > 0) return;
    upsertSearchAttributes([{ key: AWAITING_APPROVAL_SINCE, value: new Date() }]);
    await this.beforeFirstWait();
  }

  private leave(): void {
    if (--this.waiting > 0) return;
    upsertSearchAttributes([{ key: AWAITING_APPROVAL_SINCE, value: null }]);
  }
}
