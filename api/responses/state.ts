/**
 * Where a response stands, derived rather than kept (docs/ARCHITECTURE.md "A response is
 * a chat request"): its request's event log, rendered (api/responses/render.ts). When the
 * log has no end yet, the request's workflow is asked: a workflow that closed without its
 * end in the log gets it written from its outcome (api/request-end.ts), so a response is
 * never `in_progress` after its work ended. Once the log has expired (EVENT_TTL_SECONDS)
 * the response is rebuilt from what outlives it: the reply stored in the session, the
 * ledger row and the final status the row recorded when the API first saw the end.
 */
import type { RequestEvent } from '../../contracts/protocol';
import { ERRORS } from '../../contracts/errors';
import { decodeEntry, requestKeys } from '../../store/event-log';
import type { FinalStatus, ResponseRow, ResponseStore } from '../../store/responses';
import type { ApiDeps } from '../deps';
import { writeEndIfClosed } from '../request-end';
import { FINAL_STATUSES, ResponseRenderer, type ResponseMeta } from './render';

/** The `response` object's fixed fields, from its row. */
export function metaOf(row: ResponseRow): ResponseMeta {
  return {
    id: row.id,
    createdAt: Math.floor(row.createdAt.getTime() / 1000),
    model: row.model,
    background: row.background,
    store: true,
    previousResponseId: row.previousResponseId,
    metadata: row.metadata,
  };
}

/** The quota snapshot of a rebuilt `usage` event (the response object does not show it). */
const NO_QUOTA = { dailyUsed: 0, dailyLimit: 0 };

const isEnd = (e: RequestEvent) => e.type === 'done' || e.type === 'error';

/** The request's log as it stands, in order. */
async function readLog(deps: ApiDeps, row: ResponseRow): Promise<RequestEvent[]> {
  const entries = await deps.redis.xrange(requestKeys(row.userId, row.requestId).stream, '-', '+');
  return entries
    .map(([, fields]) => decodeEntry(fields))
    .filter((e): e is RequestEvent => e !== undefined);
}

/** The events of a response whose log is gone, from the stored reply, ledger and status. */
async function rebuiltLog(store: ResponseStore, row: ResponseRow): Promise<RequestEvent[]> {
  if (row.status === 'failed' || row.status === 'cancelled') {
    const error = row.error ?? {
      code: row.status === 'cancelled' ? ERRORS.Cancelled.code : ERRORS.Internal.code,
      message: '',
    };
    return [{ type: 'error', ...error }];
  }
  const reply = await store.storedReply(row);
  if (!reply) {
    return [
      {
        type: 'error',
        code: ERRORS.Internal.code,
        message: 'the outcome of this response is no longer available',
      },
    ];
  }
  const usage: RequestEvent[] = reply.usage
    ? [{ type: 'usage', ...reply.usage, quota: NO_QUOTA }]
    : [];
  return [
    ...usage,
    {
      type: 'done',
      messageId: '',
      content: reply.content,
      ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}),
      ...(row.status === 'incomplete' ? { finishReason: 'length' } : {}),
    },
  ];
}

/**
 * A log whose end was written from the workflow's outcome after Redis lost it has no
 * `usage` event: the ledger row has the usage.
 */
async function withUsage(
  store: ResponseStore,
  row: ResponseRow,
  events: RequestEvent[],
): Promise<RequestEvent[]> {
  const end = events.at(-1);
  if (end?.type !== 'done' || events.some((e) => e.type === 'usage')) return events;
  const usage = (await store.storedReply(row))?.usage;
  return usage
    ? [...events.slice(0, -1), { type: 'usage', ...usage, quota: NO_QUOTA }, end]
    : events;
}

/** The log a response is rendered from now, with whether its request may still add to it. */
export async function responseLog(
  deps: ApiDeps,
  store: ResponseStore,
  row: ResponseRow,
): Promise<{ events: RequestEvent[]; running: boolean }> {
  let events = await readLog(deps, row);
  if (events.some(isEnd)) return { events, running: false };
  if (row.status === null) {
    let closed: boolean;
    try {
      closed = await writeEndIfClosed(deps, row.userId, row.requestId);
    } catch (err) {
      // Temporal unreachable: say what the log says; the next look asks again.
      deps.logger.warn('response state: workflow check failed', { err, responseId: row.id });
      return { events, running: true };
    }
    if (!closed) return { events, running: true };
    events = await readLog(deps, row);
    if (events.some(isEnd)) return { events: await withUsage(store, row, events), running: false };
  }
  return { events: await rebuiltLog(store, row), running: false };
}

/** Renders a whole log; the renderer holds the object and the count of stream events. */
export function renderLog(meta: ResponseMeta, events: readonly RequestEvent[]) {
  const renderer = new ResponseRenderer(meta);
  const rendered = renderer.begin();
  for (const e of events) rendered.push(...renderer.push(e));
  return { renderer, rendered };
}

/** Records a final status the row does not have yet (never fails the caller). */
export function settle(
  deps: ApiDeps,
  store: ResponseStore,
  row: ResponseRow,
  renderer: ResponseRenderer,
): void {
  if (row.status !== null || !FINAL_STATUSES.has(renderer.status)) return;
  const error = renderer.object().error as ResponseRow['error'];
  store
    .settle(row.userId, row.id, renderer.status as FinalStatus, error)
    .catch((err: unknown) =>
      deps.logger.warn('could not record a response status', { err, responseId: row.id }),
    );
}

/** The `response` object as it stands now (recording its final status on first sight). */
export async function currentResponse(deps: ApiDeps, store: ResponseStore, row: ResponseRow) {
  const { events } = await responseLog(deps, store, row);
  const { renderer } = renderLog(metaOf(row), events);
  settle(deps, store, row, renderer);
  return renderer;
}
