/**
 * Sends a planned reply as an OpenAI server-sent-event stream, one chunk per token,
 * with the scripted delay between tokens and the scripted connection drop.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TiktokenEncoding } from 'tiktoken';
import { splitTokens } from '../lib/tokens';
import type { PlannedReply } from './replies';
import { chunk, sseEvent, usageChunk, type CompletionMeta, type Usage } from './wire';

/** How to stream one reply. */
export interface StreamPlan {
  meta: CompletionMeta;
  reply: PlannedReply;
  usage: Usage;
  includeUsage: boolean;
  /** Pause before each token chunk (ms). */
  delayMs: number;
  /** Destroy the connection once this many token chunks are out; undefined = never. */
  cutAfter?: number;
}

interface StreamEvent {
  data: object | '[DONE]';
  /** True for chunks that carry one token of content or tool arguments. */
  token: boolean;
}

/** The events of a reply, in order. */
export function streamEvents(
  plan: Omit<StreamPlan, 'delayMs' | 'cutAfter'>,
  encoding: TiktokenEncoding,
): StreamEvent[] {
  const { meta, reply, includeUsage } = plan;
  const ev = (delta: object, token: boolean, finish: string | null = null): StreamEvent => ({
    data: chunk(meta, delta, finish, includeUsage),
    token,
  });
  const events: StreamEvent[] = [];
  if (reply.kind === 'text') {
    events.push(ev({ role: 'assistant', content: '', refusal: null }, false));
    for (const piece of splitTokens(reply.text, encoding))
      events.push(ev({ content: piece }, true));
    events.push(ev({}, false, reply.finishReason));
  } else {
    reply.calls.forEach((call, index) => {
      const head = {
        tool_calls: [
          { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } },
        ],
      };
      events.push(ev(index === 0 ? { role: 'assistant', content: null, ...head } : head, false));
      for (const piece of splitTokens(call.arguments, encoding)) {
        events.push(ev({ tool_calls: [{ index, function: { arguments: piece } }] }, true));
      }
    });
    events.push(ev({}, false, 'tool_calls'));
  }
  if (includeUsage) events.push({ data: usageChunk(meta, plan.usage), token: false });
  events.push({ data: '[DONE]', token: false });
  return events;
}

/** Resolves false instead of throwing when the wait is aborted. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the stream to `res`. Stops quietly when `signal` aborts (client gone or
 * server closing); never throws for a dead connection.
 */
export async function streamReply(
  res: ServerResponse,
  plan: StreamPlan,
  encoding: TiktokenEncoding,
  signal: AbortSignal,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  let unflushed = 0;
  let onFlushed: (() => void) | undefined;
  let tokensSent = 0;
  for (const event of streamEvents(plan, encoding)) {
    if (plan.cutAfter !== undefined && tokensSent >= plan.cutAfter) {
      // Let the chunks already written reach the client, then drop the connection.
      if (unflushed > 0 && !signal.aborted) {
        await new Promise<void>((resolve) => {
          onFlushed = resolve;
          // A dead socket may never call back: the abort (on 'close') settles the wait.
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      res.destroy();
      return;
    }
    if (event.token && plan.delayMs > 0 && !(await pause(plan.delayMs, signal))) return;
    if (signal.aborted || res.destroyed) return;
    unflushed++;
    const ok = res.write(sseEvent(event.data), () => {
      unflushed--;
      if (unflushed === 0) onFlushed?.();
    });
    if (event.token) tokensSent++;
    if (!ok) {
      try {
        await once(res, 'drain', { signal });
      } catch {
        return;
      }
    }
  }
  if (!res.destroyed) res.end();
}
