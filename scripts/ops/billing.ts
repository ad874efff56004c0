/**
 * Billing operator commands:
 * - `billing:failed` lists billing workflows whose latest run failed, timed out or was
 *   terminated (a Temporal visibility query; runs that were retried successfully since
 *   are left out);
 * - `billing:retry <workflowId>|--all` runs them again with the same id and the same
 *   input, on the configured billing task queue. The insert is idempotent on
 *   (user, request), so a retry never adds a second row.
 */
import type { Client } from '@temporalio/client';
import { decodeRaw } from '../../lib/payload-codec';
import type { Config } from '../../lib/config';
import type { UsageRecord } from '../../contracts/billing';
import type { OpsCommand } from './context';

/** Closed billing runs that did not complete (visibility query). */
export const FAILED_BILLING_QUERY =
  "WorkflowType='billingWorkflow' AND ExecutionStatus IN ('Failed','TimedOut','Terminated')";

const FAILED_STATUSES = new Set(['FAILED', 'TIMED_OUT', 'TERMINATED']);

/** Most failed workflows one listing examines. */
export const MAX_LISTED = 1000;

export interface FailedBilling {
  workflowId: string;
  runId: string;
  status: string;
  closeTime?: string;
}

/** Billing workflows whose latest run is failed, timed out or terminated. */
export async function listFailedBilling(
  temporal: Client,
  max = MAX_LISTED,
): Promise<FailedBilling[]> {
  const ids = new Set<string>();
  for await (const wf of temporal.workflow.list({ query: FAILED_BILLING_QUERY })) {
    ids.add(wf.workflowId);
    if (ids.size >= max) break;
  }
  const failed: FailedBilling[] = [];
  for (const workflowId of ids) {
    // The query matches old runs too: only the latest run of an id tells its state.
    const d = await temporal.workflow.getHandle(workflowId).describe();
    if (!FAILED_STATUSES.has(d.status.name)) continue;
    failed.push({
      workflowId,
      runId: d.runId,
      status: d.status.name,
      closeTime: d.closeTime?.toISOString(),
    });
  }
  return failed;
}

/** The input a workflow run was started with (from its first history event). */
async function startInput(temporal: Client, workflowId: string, runId: string): Promise<unknown[]> {
  const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`${workflowId}: no start event in its history`);
  return Promise.all((started.input?.payloads ?? []).map((p) => decodeRaw(temporal.workflow, p)));
}

/**
 * Re-runs a failed billing workflow: same id, same input, on the configured billing
 * task queue. Refuses a workflow that is running or completed.
 */
export async function retryBilling(
  temporal: Client,
  config: Pick<Config, 'taskQueues'>,
  workflowId: string,
): Promise<{ workflowId: string; runId: string; record: UsageRecord }> {
  const d = await temporal.workflow.getHandle(workflowId).describe();
  if (d.type !== 'billingWorkflow')
    throw new Error(`${workflowId} is a ${d.type}, not a billingWorkflow`);
  if (!FAILED_STATUSES.has(d.status.name)) {
    throw new Error(
      `${workflowId} is ${d.status.name}: only failed, timed out or terminated runs are retried`,
    );
  }
  const args = await startInput(temporal, workflowId, d.runId);
  const handle = await temporal.workflow.start('billingWorkflow', {
    workflowId,
    taskQueue: config.taskQueues.billing,
    args,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
  });
  return { workflowId, runId: handle.firstExecutionRunId, record: args[0] as UsageRecord };
}

export const billingCommands: Record<string, OpsCommand> = {
  'billing:failed': {
    args: '',
    summary: 'list billing workflows that failed, timed out or were terminated',
    async run(_args, { temporal, out }) {
      const failed = await listFailedBilling(temporal);
      for (const f of failed) out(`${f.workflowId}\t${f.status}\t${f.closeTime ?? ''}`);
      out(`${failed.length} failed billing workflow(s)`);
      return 0;
    },
  },
  'billing:retry': {
    args: '<workflowId>|--all',
    summary: 're-run failed billing workflows (same id and input; never double counts)',
    async run(args, { temporal, config, out }) {
      const target = args[0];
      if (!target) {
        out('usage: billing:retry <workflowId>|--all');
        return 2;
      }
      const ids =
        target === '--all'
          ? (await listFailedBilling(temporal)).map((f) => f.workflowId)
          : [target];
      let failures = 0;
      for (const id of ids) {
        try {
          const r = await retryBilling(temporal, config, id);
          out(`${id}\tretried\trun ${r.runId}\t${r.record.totalTokens} tokens`);
        } catch (err) {
          failures++;
          out(`${id}\tnot retried: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      out(`${ids.length - failures} of ${ids.length} billing workflow(s) retried`);
      return failures === 0 ? 0 : 1;
    },
  },
};
