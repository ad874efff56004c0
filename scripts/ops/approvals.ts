/**
 * Operator command for tool calls waiting for the user's decision:
 *   approvals:pending [--older-than 1h] [--json]
 *       chat requests that have waited longer than that (all when absent), found by
 *       their `AwaitingApprovalSince` search attribute (also in the Temporal UI), with
 *       the calls each waits on (its `pendingApprovals` query).
 */
import type { Client } from '@temporalio/client';
import { AWAITING_APPROVAL_SINCE, pendingApprovalsQuery, type WaitingCall } from '../../contracts/approval';
import type { OpsCommand, OpsContext } from './context';
import { flag, parseDuration } from './tools';

export interface WaitingChat {
  workflowId: string;
  since: string;
  waitingForMs: number;
  calls: WaitingCall[];
}

/** Running chat workflows that have waited for a decision since before `now - olderThanMs`. */
export async function findWaitingChats(client: Client, olderThanMs: number, now = new Date()): Promise<WaitingChat[]> {
  const cutoff = new Date(now.getTime() - olderThanMs).toISOString();
  const query = `WorkflowType='chatWorkflow' AND ExecutionStatus='Running' AND ${AWAITING_APPROVAL_SINCE.name} <= '${cutoff}'`;
  const found: WaitingChat[] = [];
  for await (const wf of client.workflow.list({ query })) {
    const since = wf.typedSearchAttributes.get(AWAITING_APPROVAL_SINCE);
    if (!since) continue;
    const calls = await client.workflow
      .getHandle(wf.workflowId, wf.runId)
      .query(pendingApprovalsQuery)
      .catch(() => []);
    found.push({ workflowId: wf.workflowId, since: since.toISOString(), waitingForMs: now.getTime() - since.getTime(), calls });
  }
  return found.sort((a, b) => a.since.localeCompare(b.since));
}

async function approvalsPending(args: readonly string[], ctx: OpsContext): Promise<number> {
  const olderThan = flag(args, '--older-than');
  const waiting = await findWaitingChats(ctx.temporal, olderThan ? parseDuration(olderThan) : 0);
  if (args.includes('--json')) {
    ctx.out(JSON.stringify(waiting, null, 2));
    return 0;
  }
  if (waiting.length === 0) {
    ctx.out(`no chat request waits for an approval${olderThan ? ` for more than ${olderThan}` : ''}`);
    return 0;
  }
  for (const w of waiting) {
    const calls = w.calls.map((c) => `${c.name} (${c.toolCallId}, expires ${c.expiresAt})`).join('; ');
    ctx.out(`${w.workflowId}  waiting ${Math.round(w.waitingForMs / 60_000)} min since ${w.since}  ${calls}`);
  }
  ctx.out('');
  ctx.out("Temporal UI: Workflows -> filter AwaitingApprovalSince < '<time>'; the user decides in the app or via POST /v1/approvals/<requestId>/<toolCallId>");
  return 0;
}

/** The approval commands of `npm run ops`. */
export const approvalCommands: Readonly<Record<string, OpsCommand>> = {
  'approvals:pending': {
    args: '[--older-than 1h] [--json]',
    summary: 'chat requests whose tool calls wait for the user\'s decision',
    run: approvalsPending,
  },
};
