/** Server-Sent Events answers of the OpenAI doors (Chat Completions, Responses). */
import type { Response } from 'express';

/** SSE comment sent this often on an idle stream, so proxies keep it open. */
const KEEPALIVE_MS = 15_000;

/**
 * Sends the headers of a 200 event stream at once (unbuffered through proxies) and keeps
 * it alive; returns the keep-alive timer, which the caller clears when the stream ends.
 */
export function openEventStream(res: Response): NodeJS.Timeout {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  return setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
}
