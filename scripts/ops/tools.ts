/**
 * Operator commands for long-running tool tasks (`toolWorkflow`s):
 *   tools:stuck [--older-than 60s] [--task-queue Q] [--json]
 *       running tools whose last heartbeat is older than the threshold (or whose
 *       activity has not started / not heartbeated for that long)
 *   tools:cancel <taskId>
 *       cancels a task (the tool stops at its next heartbeat and cleans up)
 */
import type { Client } from '@temporalio/client';
import { pendingTools, TOOL_WORKFLOW_TYPE } from '../../store/tool-tasks';
import type { OpsCommand, OpsContext } from './context';

export interface StuckTool {
  taskId: string;
  tool: string;
  /** Why it counts as stuck. */
  reason: 'heartbeat_stale' | 'not_started' | 'no_activity';
  attempt: number;
  /** Milliseconds since the last sign of life (heartbeat, start, or schedule). */
  silentForMs: number;
  lastHeartbeatAt?: string;
  progress?: number;
  message?: string;
  lastFailure?: string;
}

export interface FindStuckOptions {
  olderThanMs: number;
  /** Only tasks on this task queue (e.g. one deployment's, or a test's). */
  taskQueue?: string;
  now?: Date;
}

/** Parses `90`, `500ms`, `60s`, `5m`, `1h` into milliseconds (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (try 60s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

/** Lists running tool tasks that have been silent for longer than the threshold. */
export async function findStuckTools(client: Client, opts: FindStuckOptions): Promise<StuckTool[]> {
  const now = (opts.now ?? new Date()).getTime();
  let query = `WorkflowType='${TOOL_WORKFLOW_TYPE}' AND ExecutionStatus='Running'`;
  if (opts.taskQueue) query += ` AND TaskQueue='${opts.taskQueue.replace(/'/g, '')}'`;
  const stuck: StuckTool[] = [];
  for await (const wf of client.workflow.list({ query })) {
    const desc = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    if (desc.status.name !== 'RUNNING') continue;
    const tool = String(
      desc.typedSearchAttributes.getAll().find((p) => p.key.name === 'ToolName')?.value ?? '',
    );
    const pending = await pendingTools(client.workflow, desc);
    if (pending.length === 0) {
      const silentForMs = now - desc.startTime.getTime();
      if (silentForMs > opts.olderThanMs) {
        stuck.push({
          taskId: desc.workflowId,
          tool,
          reason: 'no_activity',
          attempt: 0,
          silentForMs,
        });
      }
      continue;
    }
    for (const p of pending) {
      const since = p.lastHeartbeatAt ?? p.lastStartedAt ?? desc.startTime;
      const silentForMs = now - since.getTime();
      if (silentForMs <= opts.olderThanMs) continue;
      stuck.push({
        taskId: desc.workflowId,
        tool,
        reason: p.lastHeartbeatAt || p.lastStartedAt ? 'heartbeat_stale' : 'not_started',
        attempt: p.attempt,
        silentForMs,
        ...(p.lastHeartbeatAt ? { lastHeartbeatAt: p.lastHeartbeatAt.toISOString() } : {}),
        ...(p.details ? { progress: p.details.progress, message: p.details.message } : {}),
        ...(p.lastFailure ? { lastFailure: p.lastFailure } : {}),
      });
    }
  }
  return stuck;
}

/** The value of `--name value` or `--name=value`. */
export function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  const inline = args.find((a) => a.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

/** `tools:stuck`: prints the stuck tools (a table, or JSON with `--json`); exit 0. */
async function toolsStuck(args: readonly string[], ctx: OpsContext): Promise<number> {
  const olderThan = flag(args, '--older-than') ?? '60s';
  const stuck = await findStuckTools(ctx.temporal, {
    olderThanMs: parseDuration(olderThan),
    taskQueue: flag(args, '--task-queue'),
  });
  if (args.includes('--json')) {
    ctx.out(JSON.stringify(stuck, null, 2));
    return 0;
  }
  if (stuck.length === 0) {
    ctx.out(`no running tool has been silent for more than ${olderThan}`);
    return 0;
  }
  const rows = stuck.map((s) => [
    s.taskId,
    s.tool,
    String(s.attempt),
    `${Math.round(s.silentForMs / 1000)}s (${s.reason})`,
    s.progress === undefined ? '-' : `${s.progress}%`,
    s.message ?? s.lastFailure ?? '',
  ]);
  const header = ['TASK ID', 'TOOL', 'ATTEMPT', 'SILENT FOR', 'PROGRESS', 'LAST MESSAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const r of [header, ...rows])
    ctx.out(
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  ctx.out('');
  ctx.out(
    'Inspect: Temporal UI -> Workflows -> <taskId> -> Pending Activities (last heartbeat, details)',
  );
  ctx.out(
    'Cancel:  npm run ops -- tools:cancel <taskId>   (or: temporal workflow cancel -w <taskId>)',
  );
  ctx.out(
    'Reset:   temporal workflow reset -w <taskId> --type LastWorkflowTask --reason "stuck tool"',
  );
  return 0;
}

/** `tools:cancel <taskId>`: requests cancellation of a task. */
async function toolsCancel(args: readonly string[], ctx: OpsContext): Promise<number> {
  const taskId = args.find((a) => !a.startsWith('--'));
  if (!taskId) {
    ctx.out('usage: tools:cancel <taskId>');
    return 2;
  }
  await ctx.temporal.workflow.getHandle(taskId).cancel();
  ctx.out(`cancellation requested for ${taskId}; the tool stops at its next heartbeat`);
  return 0;
}

/** The tool commands of `npm run ops`. */
export const toolCommands: Readonly<Record<string, OpsCommand>> = {
  'tools:stuck': {
    args: '[--older-than 60s] [--task-queue Q] [--json]',
    summary: 'running tools whose last heartbeat is older than the threshold',
    run: toolsStuck,
  },
  'tools:cancel': {
    args: '<taskId>',
    summary: 'cancel a tool task (it stops at its next heartbeat, then cleans up)',
    run: toolsCancel,
  },
};
