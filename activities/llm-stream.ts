/**
 * A streamed chat completion read straight off `node:http(s)`: the request the `openai`
 * client would send, and its server-sent events parsed here.
 *
 * Why not the client's own stream: every token crosses undici, a web stream, the
 * client's line and SSE decoders and an async generator before the activity sees it;
 * measured through `npm start` (BENCHMARKS.md "streams") that was about 77 µs of worker
 * CPU per streamed token, most of what a token costs us. Here a token costs a `data`
 * event, a string split and a `JSON.parse`. Failures are the client's own error classes
 * (`APIError.generate`, `APIConnectionError`), so they are classified exactly as before
 * (activities/llm.ts `toFailure`). Non-streamed calls (summaries) keep the client.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type OpenAI from 'openai';
import { APIConnectionError, APIError } from 'openai';

export type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/**
 * Connections to LLM endpoints are kept alive and shared by every stream of the process
 * (exported so a unit test can see a connection go back to the pool).
 */
export const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/** How long a response may stay open after its `[DONE]` before its connection is dropped. */
const AFTER_DONE_MS = 1000;

/** The longest error body read from a failed request. */
const MAX_ERROR_BODY = 64 * 1024;

/**
 * POSTs `body` (with `stream: true`) to `<baseUrl>/chat/completions` and yields each
 * chunk. Throws `APIError` for a non-2xx answer or an `error` event in the stream,
 * `APIConnectionError` when the connection fails or drops; stops at `[DONE]`.
 */
export async function* streamChatCompletion(
  baseUrl: string,
  apiKey: string,
  body: object,
  signal: AbortSignal,
): AsyncGenerator<ChatCompletionChunk> {
  const res = await post(new URL(`${baseUrl.replace(/\/+$/, '')}/chat/completions`), apiKey, body, signal);
  if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw await httpError(res);
  res.setEncoding('utf8');
  let buffered = '';
  let finished = false;
  let afterDone: NodeJS.Timeout | undefined;
  try {
    // Read to the response's end even after `[DONE]`: leaving a `for await` early destroys
    // the stream, and with it a connection the agent could reuse.
    for await (const piece of res as AsyncIterable<string>) {
      if (finished) continue;
      buffered += piece;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = dataOf(event);
        if (data === undefined) continue;
        if (data === '[DONE]') {
          finished = true;
          // A server that keeps the response open after `[DONE]` loses the connection.
          afterDone = setTimeout(() => res.destroy(), AFTER_DONE_MS);
          break;
        }
        const chunk = JSON.parse(data) as ChatCompletionChunk & { error?: object };
        if (chunk.error) throw new APIError(undefined, chunk.error, 'the LLM sent an error event', undefined);
        yield chunk;
      }
    }
  } catch (err) {
    if (finished) return; // the reply was whole; only its connection's end went wrong
    if (err instanceof APIError || signal.aborted) throw err;
    throw new APIConnectionError({ message: 'the LLM stream broke off', cause: err as Error });
  } finally {
    clearTimeout(afterDone);
    // Failed, aborted or cut: drop the connection.
    if (!finished) res.destroy();
  }
  if (finished) return;
  // The connection ended without `[DONE]`: a cut stream, as the client would report it.
  throw new APIConnectionError({ message: 'the LLM stream ended early' });
}

/** The `data:` lines of one SSE event, joined; undefined when it has none. */
function dataOf(event: string): string | undefined {
  let data: string | undefined;
  for (const line of event.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line[5] === ' ' ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function post(url: URL, apiKey: string, body: object, signal: AbortSignal): Promise<IncomingMessage> {
  const payload = JSON.stringify(body);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: agents[url.protocol as 'http:' | 'https:'],
        signal,
        headers: {
          // A provider without a key (LLM_CONFIG with no apiKeyEnv) gets no Authorization header.
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'content-length': Buffer.byteLength(payload),
        },
      },
      resolve,
    );
    req.on('error', (err) =>
      reject(signal.aborted ? err : new APIConnectionError({ message: 'could not reach the LLM', cause: err })),
    );
    req.end(payload);
  });
}

/** The client's error for a non-2xx answer, from its JSON body when it has one. */
async function httpError(res: IncomingMessage): Promise<APIError> {
  let text = '';
  res.setEncoding('utf8');
  for await (const piece of res as AsyncIterable<string>) {
    if (text.length < MAX_ERROR_BODY) text += piece;
  }
  let parsed: object | undefined;
  try {
    parsed = JSON.parse(text) as object;
  } catch {
    parsed = undefined;
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
  return APIError.generate(res.statusCode, parsed, undefined, headers);
}
