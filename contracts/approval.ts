/**
 * Approving tool calls (docs/API.md "Approving tool calls"): the signal that tells a
 * waiting chat workflow a decision was made, the search attribute that marks waiting
 * chats, and the shapes the API answers. Pure types and constants: importable from
 * workflows.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** What a user may decide. */
export type ApprovalDecision = 'approve' | 'deny';

/** How a waiting call ended: decided, or not decided in time, or its request cancelled. */
export type ApprovalEnd = ApprovalDecision | 'expired' | 'cancelled';

/** Default of `TOOL_APPROVAL_TIMEOUT_S`: a day. */
export const DEFAULT_TOOL_APPROVAL_TIMEOUT_S = 86_400;

/**
 * A decision was recorded for one waiting call (the API wrote it to Postgres first:
 * the row is the truth, the signal only wakes the workflow). `reason` is the user's.
 */
export interface ApprovalSignal {
  toolCallId: string;
  decision: ApprovalDecision;
  reason?: string;
}

export const approvalSignal = defineSignal<[ApprovalSignal]>('approval');

/**
 * Set on a chat workflow while at least one of its tool calls waits for approval (the
 * time the first began waiting), removed when none waits. Temporal UI:
 * `AwaitingApprovalSince < "2026-01-01T00:00:00Z"`; `npm run ops -- approvals:pending`.
 */
export const AWAITING_APPROVAL_SINCE = defineSearchAttributeKey(
  'AwaitingApprovalSince',
  SearchAttributeType.DATETIME,
);

/** A call a chat workflow waits on, as its `pendingApprovalsQuery` answers (operators). */
export interface WaitingCall {
  toolCallId: string;
  name: string;
  expiresAt: string;
}

/** The calls a chat workflow waits on now (`npm run ops -- approvals:pending`). */
export const pendingApprovalsQuery = defineQuery<WaitingCall[]>('pendingApprovals');

/** One waiting call, as `GET /v1/approvals` lists it. */
export interface PendingApproval {
  requestId: string;
  sessionId: string;
  toolCallId: string;
  name: string;
  arguments: unknown;
  createdAt: string;
  expiresAt: string;
}
