/** A raw Server-Sent Events client over fetch, for tests of the OpenAI-compatible stream. */

export interface SseMessage {
  id?: string;
  data: string;
}

export interface SseResult {
  status: number;
  headers: Headers;
  events: SseMessage[];
  /** The body when the answer was not a stream (an error). */
  body?: unknown;
}

export interface SseOptions {
  headers?: Record<string, string>;
  /** Stop reading (abort the request) once this returns true. */
  stopWhen?: (events: SseMessage[]) => boolean;
  /** Called after each event (e.g. to kill a worker mid-stream). */
  onEvent?: (events: SseMessage[]) => void;
}

/** POSTs `body` and reads the SSE answer until it ends (or `stopWhen` aborts it). */
export async function postSse(url: string, token: string, body: unknown, options: SseOptions = {}): Promise<SseResult> {
  const abort = new AbortController();
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...options.headers },
    body: JSON.stringify(body),
    signal: abort.signal,
  });
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, events: [], body: parsed };
  }
  const events: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const msg: SseMessage = { data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          if (line.startsWith('id: ')) msg.id = line.slice(4);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length === 0) continue;
        msg.data = data.join('\n');
        events.push(msg);
        options.onEvent?.(events);
        if (options.stopWhen?.(events)) {
          abort.abort();
          return { status: res.status, headers: res.headers, events };
        }
      }
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
  return { status: res.status, headers: res.headers, events };
}

/** The content a client reassembles from `chat.completion.chunk` events. */
export function contentOf(events: readonly SseMessage[]): string {
  let text = '';
  for (const e of events) {
    if (e.data === '[DONE]') continue;
    const chunk = JSON.parse(e.data) as { choices?: Array<{ delta?: { content?: string | null } }> };
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}
