/**
 * The chat request's side of approvals, as local activities: record a waiting call and
 * tell the client (`approval_required`, `status awaiting_approval`), and end the wait
 * with the call's final decision (store/approvals.ts holds the one truth about it).
 */
import type { ApprovalEnd } from '../contracts/approval';
import { closeApproval, openApproval, type ApprovalKey } from '../store/approvals';
import { trackSessionRequest } from '../store/sessions';
import type { ActivityDeps } from './deps';
import { argumentsForClient } from './tools';

export interface OpenApprovalInput extends ApprovalKey {
  sessionId: string;
  name: string;
  /** The arguments as the LLM wrote them (JSON text). */
  arguments: string;
  expiresAt: string;
  /** Seconds until `expiresAt`: how long the request's events must now be kept. */
  waitSeconds: number;
}

export interface CloseApprovalInput extends ApprovalKey {
  /** What an undecided call becomes. */
  end: 'expired' | 'cancelled';
}

/** Creates the approval activities over their dependencies. */
export function createApprovalActivities(deps: ActivityDeps) {
  /**
   * Records the waiting call, keeps the request's events as long as it may wait (a
   * client resuming a day later still gets the frame), then sends `approval_required`
   * and `status awaiting_approval`, each once however often this step is retried.
   */
  async function openToolApproval(input: OpenApprovalInput): Promise<void> {
    await openApproval(deps.db, input);
    await deps.events.keepFor(input.userId, input.requestId, input.waitSeconds + 3600);
    // Deleting the session still cancels the request, however long it waits.
    await trackSessionRequest(deps.redis, input.sessionId, input.requestId, input.waitSeconds);
    await deps.events.append(
      input.userId,
      input.requestId,
      {
        type: 'approval_required',
        toolCallId: input.toolCallId,
        name: input.name,
        arguments: argumentsForClient(input.arguments),
        expiresAt: input.expiresAt,
      },
      { once: `approval:${input.toolCallId}` },
    );
    await deps.events.append(
      input.userId,
      input.requestId,
      { type: 'status', state: 'awaiting_approval', detail: input.name },
      { once: `awaiting:${input.toolCallId}` },
    );
  }

  /** Ends the wait: the call's decision, or `end` when nobody decided. */
  function closeToolApproval(input: CloseApprovalInput): Promise<ApprovalEnd> {
    return closeApproval(deps.db, input, input.end);
  }

  return { openToolApproval, closeToolApproval };
}
