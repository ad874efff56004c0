/**
 * One chat request as the caller sees it: its events as they arrive (listener and
 * async iterable), the reply text so far (reset on `restart`), the terminal frame as a
 * promise, and `cancel()`. Each event is delivered once, even when the connection
 * resumes the request after a drop and the server sends some events again.
 */
import { ChatApiError } from './errors';
import type { ChatEvent, DoneFrame, ErrorFrame, TerminalFrame } from './types';

export type ChatListener = (event: ChatEvent) => void;

/** True for the frame that ends a request (`done`, or an `error` about it). */
export function isTerminal(frame: { type: string }): frame is TerminalFrame {
  return frame.type === 'done' || frame.type === 'error';
}

/**
 * The reply text of a request from its frames, as a client shows it: deltas appended,
 * everything dropped on `restart` (the LLM call was retried).
 */
export function replyText(frames: ReadonlyArray<{ type: string; content?: unknown }>): string {
  let text = '';
  for (const f of frames) text = nextText(text, f);
  return text;
}

function nextText(text: string, f: { type: string; content?: unknown }): string {
  if (f.type === 'restart') return '';
  if (f.type === 'delta') return text + String(f.content);
  return text;
}

/** Compares eventIds (decimal strings that sort in the order sent). */
export function eventIdAfter(eventId: string, last: string | undefined): boolean {
  return last === undefined || Number(eventId) > Number(last);
}

export class ChatHandle implements AsyncIterable<ChatEvent> {
  /** The reply so far: deltas since the last `restart`. */
  text = '';
  /** The last eventId received (what a resume continues from). */
  lastEventId: string | undefined;
  /** True once the server said `accepted`. */
  accepted = false;
  /** Set by `cancel()`. */
  cancelRequested = false;
  /** Every event received, in order. */
  readonly events: ChatEvent[] = [];
  /** Resolves with the request's `done` or `error` frame; never rejects. */
  readonly terminal: Promise<TerminalFrame>;
  private resolveTerminal!: (frame: TerminalFrame) => void;
  private ended: TerminalFrame | undefined;
  private readonly listeners = new Set<ChatListener>();
  private wake: Array<() => void> = [];

  constructor(
    readonly requestId: string,
    readonly sessionId: string,
    private readonly onCancel: (handle: ChatHandle) => void,
  ) {
    this.terminal = new Promise((resolve) => (this.resolveTerminal = resolve));
  }

  /** The terminal frame once the request has ended. */
  get result(): TerminalFrame | undefined {
    return this.ended;
  }

  get finished(): boolean {
    return this.ended !== undefined;
  }

  /** Calls `listener` for each event from now on; returns the unsubscribe function. */
  on(listener: ChatListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every event of the request (from the first one), ending after the terminal frame. */
  async *[Symbol.asyncIterator](): AsyncIterator<ChatEvent> {
    let i = 0;
    for (;;) {
      while (i < this.events.length) {
        const event = this.events[i++]!;
        yield event;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => this.wake.push(resolve));
    }
  }

  /** The `done` frame; rejects with a {@link ChatApiError} when the request ends in `error`. */
  async reply(): Promise<DoneFrame> {
    const end = await this.terminal;
    if (end.type === 'done') return end;
    throw new ChatApiError(end.code, end.message, {
      requestId: this.requestId,
      ...(end.retryAfter !== undefined ? { retryAfter: end.retryAfter } : {}),
    });
  }

  /** Stops the request: it ends with `error` `cancelled` (unless it ends first). */
  cancel(): void {
    if (this.ended || this.cancelRequested) return;
    this.cancelRequested = true;
    this.onCancel(this);
  }

  /**
   * Takes one frame of this request from the connection. Duplicates (an `accepted`
   * again, an eventId already seen) are dropped. Returns true once the request ended.
   */
  receive(frame: ChatEvent): boolean {
    if (this.ended) return true;
    if (frame.type === 'accepted') {
      if (this.accepted) return false;
      this.accepted = true;
    } else if ('eventId' in frame && frame.eventId !== undefined) {
      if (!eventIdAfter(frame.eventId, this.lastEventId)) return false;
      this.lastEventId = frame.eventId;
    }
    this.text = nextText(this.text, frame);
    this.events.push(frame);
    if (isTerminal(frame)) {
      this.ended = frame;
      this.resolveTerminal(frame);
    }
    for (const listener of this.listeners) {
      try {
        listener(frame);
      } catch {
        /* a listener's bug must not stop delivery to the others */
      }
    }
    for (const w of this.wake.splice(0)) w();
    return this.ended !== undefined;
  }

  /** Ends the request on the client's side (see {@link ErrorFrame.local}). */
  endLocally(code: ErrorFrame['code'], message: string): void {
    this.receive({ type: 'error', requestId: this.requestId, code, message, local: true });
  }
}
