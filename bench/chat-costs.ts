/**
 * What one chat request costs, read from outside the code under test: CPU time of
 * every process on the path (from /proc), and workflow executions, history events and
 * Temporal Cloud actions per request (from the workflow histories).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { billingWorkflowId } from '../contracts/billing';
import { chatWorkflowId } from '../contracts/chat';
import { pidListeningOn, processCpuMs } from '../testkit/throwaway-temporal';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** CPU ms used so far by each process (group) a chat request runs through. */
export interface CpuSnapshot {
  /** This process: API, workers, embedded LLM and the benchmark's clients. */
  bench: number;
  temporal: number;
  redis: number;
  /** Every `postgres` process (server and the backends of every pool). */
  postgres: number;
}

/** Reads CPU counters of the bench process, the Temporal server, Redis and Postgres. */
export function cpuReader(temporalPort: number, redisPort = 6379): () => CpuSnapshot {
  const temporalPid = pidListeningOn(temporalPort);
  const redisPid = pidListeningOn(redisPort);
  const of = (pid: number | undefined) => {
    if (!pid) return NaN;
    try {
      return processCpuMs(pid);
    } catch {
      return NaN;
    }
  };
  return () => {
    const cpu = process.cpuUsage();
    return {
      bench: (cpu.user + cpu.system) / 1000,
      temporal: of(temporalPid),
      redis: of(redisPid),
      postgres: postgresCpuMs(),
    };
  };
}

/** Sum of CPU ms of every process named `postgres` (Linux). */
function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      total += processCpuMs(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return total;
}

/** `after - before`, per process group. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuSnapshot {
  return {
    bench: after.bench - before.bench,
    temporal: after.temporal - before.temporal,
    redis: after.redis - before.redis,
    postgres: after.postgres - before.postgres,
  };
}

/** Executions, history events and billed actions of one request. */
export interface RequestCost {
  executions: number;
  events: number;
  actions: number;
}

/**
 * Temporal Cloud's actions in one history (docs.temporal.io/cloud/actions), counted
 * from its events:
 * - workflow started: 1; a child workflow: 2 (the start and the child's execution),
 *   the child's own actions counted in its own history;
 * - activity started or retried: 1 per attempt;
 * - local activities: 1 per workflow task that recorded any marker (all markers of one
 *   workflow task are one action; the patch marker is one of them);
 * - timer started, signal, search attribute upsert (but `TemporalChangeVersion`,
 *   which `patched()` writes, is exempt): 1 each;
 * - activity heartbeats are billed when they reach the server but are not in the
 *   history: not counted here (the LLM activity sends one for a short reply).
 */
export function actionsOf(events: readonly HistoryEvent[]): number {
  let actions = 0;
  const markerTasks = new Set<string>();
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) actions += 1;
    else if (e.activityTaskStartedEventAttributes)
      actions += e.activityTaskStartedEventAttributes.attempt ?? 1;
    else if (e.startChildWorkflowExecutionInitiatedEventAttributes) actions += 2;
    else if (e.timerStartedEventAttributes) actions += 1;
    else if (e.workflowExecutionSignaledEventAttributes) actions += 1;
    else if (e.markerRecordedEventAttributes) {
      markerTasks.add(String(e.markerRecordedEventAttributes.workflowTaskCompletedEventId));
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      const fields =
        e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {};
      if (Object.keys(fields).some((k) => k !== 'TemporalChangeVersion')) actions += 1;
    }
  }
  return actions + markerTasks.size;
}

/**
 * The cost of one chat request: its chat workflow's history plus the billing child's
 * when it started one (`billing-<user>-<request>`).
 */
export async function requestCost(
  temporal: Client,
  userId: string,
  requestId: string,
  workflowId = chatWorkflowId(userId, requestId),
): Promise<RequestCost> {
  const chat = (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const cost = { executions: 1, events: chat.length, actions: actionsOf(chat) };
  if (chat.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)) {
    const child = temporal.workflow.getHandle(billingWorkflowId(userId, requestId));
    await child.result().catch(() => undefined);
    const events = (await child.fetchHistory()).events ?? [];
    cost.executions += 1;
    cost.events += events.length;
    // Its start was counted in the parent (2 actions: start + execution).
    cost.actions += actionsOf(events) - 1;
  }
  return cost;
}
