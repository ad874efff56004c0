/**
 * The workers' event log: the shared {@link EventLog} that also counts each chat
 * request's outcome in `chat_requests_total{method, status}`.
 *
 * Why here and not in the API: the append script accepts exactly one terminal event
 * (`done` or `error`) per request and refuses every later one (activity retries,
 * zombie attempts), so counting the terminal appends it accepts counts each request
 * once, whichever worker writes it. The API could only count what it relays: nothing
 * when the client left before the end, and twice when the client resumed on another
 * API replica. (A terminal write whose Redis reply is lost is retried, refused, and
 * so never counted: a request is counted at most once.)
 *
 * `method` is the door the request came in by (`ws`, or `openai` for the OpenAI-compatible
 * API), passed along by the step that writes the terminal event; `ws` when absent. Requests
 * the API refuses before starting a workflow (rate limit, unknown session) are not
 * chat requests here; refusals are counted in `quota_refusals_total`.
 */
import { TERMINAL_EVENT_TYPES, type RequestEvent } from '../contracts/protocol';
import { EventLog, type AppendOptions, type Appended } from '../store/event-log';
import { chatRequestsTotal } from '../lib/metrics';

/** The method of chat requests that name none (the WebSocket; see the module doc). */
export const CHAT_METHOD = 'ws';

/** {@link EventLog} that counts every request's terminal event once. */
export class MeteredEventLog extends EventLog {
  override async write(
    userId: string,
    requestId: string,
    event: RequestEvent,
    options: AppendOptions = {},
  ): Promise<Appended | null> {
    const seq = await super.write(userId, requestId, event, options);
    if (seq !== null && TERMINAL_EVENT_TYPES.has(event.type)) {
      chatRequestsTotal.inc({
        method: options.method ?? CHAT_METHOD,
        status: event.type === 'error' ? event.code : 'done',
      });
    }
    return seq;
  }
}
