/**
 * Where a chat workflow's time goes before its LLM call, read from its Temporal history
 * (server timestamps; the client's send time is on the same host clock): the start
 * request, the first workflow task's dispatch, that task (the local activities before
 * the LLM call run inside it), and the LLM activity's dispatch.
 */
import type { Client } from '@temporalio/client';
import { chatWorkflowId } from '../contracts/chat';
import { percentile, round } from './result';

/** One request's segments, in ms. */
export interface Timeline {
  /** Client sends `chat` -> WorkflowExecutionStarted (API checks + start RPC). */
  sendToStarted: number;
  /** WorkflowExecutionStarted -> first WorkflowTaskStarted (matching, poll). */
  firstTaskDispatch: number;
  /** First WorkflowTaskStarted -> its WorkflowTaskCompleted (local activities included). */
  firstTask: number;
  /** First WorkflowTaskCompleted -> the LLM ActivityTaskStarted (scheduling, dispatch). */
  activityDispatch: number;
}

interface Timestamp {
  seconds?: { toNumber(): number } | number | null;
  nanos?: number | null;
}

function ms(t: Timestamp | null | undefined): number {
  if (!t) return NaN;
  const s = typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0);
  return s * 1000 + (t.nanos ?? 0) / 1e6;
}

/** The timeline of one chat request from its workflow history. */
export async function timelineOf(
  temporal: Client,
  userId: string,
  requestId: string,
  sentAtMs: number,
): Promise<Timeline> {
  const history = await temporal.workflow
    .getHandle(chatWorkflowId(userId, requestId))
    .fetchHistory();
  const events = history.events ?? [];
  const at = (pred: (e: (typeof events)[number]) => unknown) => ms(events.find(pred)?.eventTime);
  const started = at((e) => e.workflowExecutionStartedEventAttributes);
  const taskStarted = at((e) => e.workflowTaskStartedEventAttributes);
  const taskCompleted = at((e) => e.workflowTaskCompletedEventAttributes);
  const activityStarted = at((e) => e.activityTaskStartedEventAttributes);
  return {
    sendToStarted: started - sentAtMs,
    firstTaskDispatch: taskStarted - started,
    firstTask: taskCompleted - taskStarted,
    activityDispatch: activityStarted - taskCompleted,
  };
}

/** p50 of each segment over several timelines, as metrics named `<prefix>_<segment>_p50_ms`. */
export function timelineMetrics(
  prefix: string,
  timelines: readonly Timeline[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const keys: Array<[keyof Timeline, string]> = [
    ['sendToStarted', 'send_to_started'],
    ['firstTaskDispatch', 'first_task_dispatch'],
    ['firstTask', 'first_task'],
    ['activityDispatch', 'llm_activity_dispatch'],
  ];
  for (const [key, name] of keys) {
    out[`${prefix}_${name}_p50_ms`] = round(
      percentile(
        timelines.map((t) => t[key]),
        50,
      ),
      1,
    );
  }
  return out;
}
