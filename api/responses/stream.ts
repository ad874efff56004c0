/**
 * Answers of a response that follow its request's log (api/responses/render.ts): the
 * Server-Sent Events stream of `POST /v1/responses` with `stream:true` and of a
 * re-attach (`GET /v1/responses/:id?stream=true&starting_after=N`), and the wait of a
 * plain create for its final object.
 */
import type { Request, Response } from 'express';
import { ERRORS } from '../../contracts/errors';
import type { RequestEvent } from '../../contracts/protocol';
import type { ApiDeps } from '../deps';
import { sendError } from '../errors';
import { errorOfEvent, follow, type Followed } from '../openai/routes';
import { openEventStream } from '../openai/sse';
import { ResponseRenderer, type ResponseMeta, type ResponseStreamEvent } from './render';

export interface StreamOptions {
  /** Events up to this `sequence_number` are not sent (a re-attach's `starting_after`); -1 = all. */
  after: number;
  /**
   * Hold the headers until the LLM is being called, so a refusal (quota, context too
   * large) is an HTTP error as OpenAI answers it, not an event in a 200 stream. Off for
   * background responses and re-attaches: the response exists whatever happens to it.
   */
  hold: boolean;
  /** Hears the renderer once the stream has ended (to record the final status). */
  onEnd?: (renderer: ResponseRenderer) => void;
}

/** Log events that make a held stream start: the request got past its refusals. */
function decisive(event: RequestEvent): boolean {
  if (event.type === 'error') return false;
  return event.type !== 'status' || event.state === 'calling_llm';
}

function writeEvent(res: Response, e: ResponseStreamEvent): void {
  res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
}

/** Streams the response's events after `options.after`, to its terminal event. */
export async function streamResponse(
  deps: ApiDeps,
  req: Request,
  res: Response,
  followed: Followed,
  meta: ResponseMeta,
  options: StreamOptions,
): Promise<void> {
  const renderer = new ResponseRenderer(meta);
  const held: ResponseStreamEvent[] = [];
  let started = false;
  let keepalive: NodeJS.Timeout | undefined;
  const send = (events: ResponseStreamEvent[]) => {
    if (!started) return void held.push(...events);
    for (const e of events) if (e.sequence_number > options.after) writeEvent(res, e);
  };
  const begin = () => {
    if (started) return;
    started = true;
    keepalive = openEventStream(res);
    send(held.splice(0));
  };
  send(renderer.begin());
  if (!options.hold) begin();

  await new Promise<void>((resolve) => {
    const finish = () => {
      clearInterval(keepalive);
      stop();
      if (!res.writableEnded) res.end();
      resolve();
    };
    const stop = follow(deps, followed, (event) => {
      if (!started && event.type === 'error' && event.code !== ERRORS.Cancelled.code) {
        sendError(res, errorOfEvent(event));
        options.onEnd?.(pushAll(renderer, event));
        return finish();
      }
      const events = renderer.push(event);
      if (decisive(event)) begin();
      send(events);
      if (renderer.ended) {
        begin();
        options.onEnd?.(renderer);
        finish();
      }
    });
    res.on('close', finish);
    req.on('aborted', finish);
  });
}

const pushAll = (renderer: ResponseRenderer, event: RequestEvent) => {
  renderer.push(event);
  return renderer;
};

/** Writes a finished rendering (a re-attach after the end): the events after `after`. */
export function writeRendering(
  res: Response,
  events: readonly ResponseStreamEvent[],
  after: number,
): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  for (const e of events) if (e.sequence_number > after) writeEvent(res, e);
  res.end();
}

/**
 * Waits for the request's end and answers the final `response` object. A request
 * refused before any output (quota, rate, context) is the HTTP error, as Chat
 * Completions answers it; a cancelled one is the object with status `cancelled`.
 */
export function finalAnswer(
  deps: ApiDeps,
  req: Request,
  res: Response,
  followed: Followed,
  meta: ResponseMeta,
  onEnd: (renderer: ResponseRenderer) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const renderer = new ResponseRenderer(meta);
    let output = false;
    const stop = follow(deps, followed, (event) => {
      output ||= event.type === 'delta' || event.type === 'done';
      renderer.push(event);
      if (!renderer.final) return;
      onEnd(renderer);
      if (event.type === 'error' && !output && event.code !== ERRORS.Cancelled.code)
        sendError(res, errorOfEvent(event));
      else res.json(renderer.object());
      stop();
      resolve();
    });
    res.on('close', () => {
      stop();
      resolve();
    });
    req.on('aborted', () => stop());
  });
}
