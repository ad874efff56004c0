/**
 * Sends a planned reply as an OpenAI server-sent-event stream, one chunk per token,
 * with the scripted delay between tokens and the scripted connection drop.
 */
import type { ServerResponse } from 'node:http';
import { callAt } from './pacer';
import type { TiktokenEncoding } from 'tiktoken';
import { splitTokens } from '../prompt/tokens';
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

/**
 * Writes the stream to `res`: each token chunk at its time on the reply's schedule (one
 * every `delayMs`; a late write is caught up, so the pace holds under load), through
 * the shared {@link callAt} pacer. Stops quietly when `signal` aborts (client gone or
 * server closing); never throws for a dead connection.
 */
export function streamReply(
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
  const events = streamEvents(plan, encoding).map((e) => ({
    text: sseEvent(e.data),
    token: e.token,
  }));
  let next = 0;
  let due = performance.now();
  let waited = false;
  let tokensSent = 0;
  return new Promise<void>((resolve) => {
    const stop = () => {
      signal.removeEventListener('abort', stop);
      resolve();
    };
    signal.addEventListener('abort', stop, { once: true });
    const step = (): void => {
      while (next < events.length) {
        if (signal.aborted || res.destroyed) return stop();
        if (plan.cutAfter !== undefined && tokensSent >= plan.cutAfter) {
          // Let the chunks already written reach the client, then drop the connection.
          res.write('', () => {
            res.destroy();
            stop();
          });
          return;
        }
        const event = events[next]!;
        if (event.token && plan.delayMs > 0 && !waited) {
          due += plan.delayMs;
          waited = true;
          if (due > performance.now()) return callAt(due, step);
        }
        waited = false;
        next++;
        if (event.token) tokensSent++;
        if (!res.write(event.text)) {
          res.once('drain', step);
          return;
        }
      }
      if (!res.destroyed) res.end();
      stop();
    };
    step();
  });
}
