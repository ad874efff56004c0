/**
 * Approving tool calls (docs/API.md "Approving tool calls"): `GET /v1/approvals` lists
 * the user's waiting calls; `POST /v1/approvals/:requestId/:toolCallId` decides one.
 *
 * A decision is written to Postgres first (store/approvals.ts: the one truth, so a
 * repeat answers the same and the other decision 409), then the chat workflow is
 * signalled to read it. A repeat signals again: that also repairs a signal lost to a
 * crash between the two steps. Another user's call answers 404, like an unknown one.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import express, { type Request } from 'express';
import { approvalSignal, type ApprovalDecision } from '../../contracts/approval';
import { chatWorkflowId } from '../../contracts/chat';
import { ERRORS } from '../../contracts/errors';
import { decideApproval, listPendingApprovals } from '../../store/approvals';
import type { ApiDeps } from '../deps';
import { AppError } from '../errors';

const MAX_REASON_CHARS = 1000;
const MAX_ID_CHARS = 200;

function userIdOf(req: Request): string {
  if (!req.user) throw new AppError(ERRORS.Unauthorized);
  return req.user.userId;
}

/** The body's decision and reason; 400 when they are not what the contract allows. */
function parseDecision(body: unknown): { decision: ApprovalDecision; reason?: string } {
  const b = (body ?? {}) as { decision?: unknown; reason?: unknown };
  if (b.decision !== 'approve' && b.decision !== 'deny') {
    throw new AppError(ERRORS.BadRequest, 'decision must be "approve" or "deny"');
  }
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > MAX_REASON_CHARS)) {
    throw new AppError(ERRORS.BadRequest, `reason must be a string of at most ${MAX_REASON_CHARS} characters`);
  }
  return { decision: b.decision, ...(b.reason ? { reason: b.reason } : {}) };
}

/** The approval routes, mounted on the authenticated `/v1` router. */
export function approvalsRouter(deps: ApiDeps): express.Router {
  const router = express.Router();

  router.get('/approvals', async (req, res) => {
    res.json({ approvals: await listPendingApprovals(deps.db, userIdOf(req)) });
  });

  router.post('/approvals/:requestId/:toolCallId', async (req, res) => {
    const userId = userIdOf(req);
    const requestId = String(req.params.requestId);
    const toolCallId = String(req.params.toolCallId);
    const { decision, reason } = parseDecision(req.body);
    if (requestId.length > MAX_ID_CHARS || toolCallId.length > MAX_ID_CHARS) {
      throw new AppError(ERRORS.NotFound, 'no such tool call waits for a decision');
    }
    const outcome = await decideApproval(deps.db, { userId, requestId, toolCallId }, decision);
    if (outcome === 'not_found') throw new AppError(ERRORS.NotFound, 'no such tool call waits for a decision');
    if (outcome === 'conflict') {
      throw new AppError(ERRORS.Conflict, 'the other decision was already made for this tool call');
    }
    try {
      await deps.temporal.workflow
        .getHandle(chatWorkflowId(userId, requestId))
        .signal(approvalSignal, { toolCallId, decision, ...(reason ? { reason } : {}) });
    } catch (err) {
      // The request already ended (a repeat after the call ran): the decision stands.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    res.json({ requestId, toolCallId, decision });
  });

  return router;
}
