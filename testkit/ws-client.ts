/**
 * A raw WebSocket test client that collects frames and waits for them: for tests that
 * send malformed frames or read frames exactly as the server sent them. Everything else
 * speaks through the client library (client/), which holds the protocol's logic; this
 * wrapper reuses it (what ends a request, how the reply text is reassembled).
 */
import WebSocket from 'ws';
import { isTerminal, replyText } from '../client';

export type Frame = Record<string, unknown> & { type: string };

export class TestClient {
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(Buffer.from(data as ArrayBuffer).toString('utf8')) as Frame);
      this.notify();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens a socket; rejects with {@link UpgradeRefused} (status, body) when the upgrade is refused. */
  static connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const client = new TestClient(ws);
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
        res.on('error', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
      });
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits until `pred` holds over the frames received so far. */
  async waitFor<T>(
    pred: (frames: Frame[]) => T | undefined | false,
    timeoutMs = 20_000,
    what = 'frame',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pred(this.frames);
      if (v) return v;
      if (this.closeCode !== undefined)
        throw new Error(`socket closed (${this.closeCode}) waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; got: ${JSON.stringify(this.frames.slice(-10))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Frames of one request. */
  of(requestId: string): Frame[] {
    return this.frames.filter((f) => f.requestId === requestId);
  }

  /** Waits for the request's `done` or `error` frame and returns it. */
  end(requestId: string, timeoutMs = 30_000): Promise<Frame> {
    return this.waitFor(
      // An `error` without eventId may answer one frame (e.g. a refused `cancel`), not end the request.
      (fs) =>
        fs.find(
          (f) =>
            f.requestId === requestId &&
            isTerminal(f) &&
            (f.type === 'done' || f.eventId !== undefined),
        ),
      timeoutMs,
      `end of ${requestId}`,
    );
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    /** The refusal's body (the contract's error JSON). */
    readonly body = '',
  ) {
    super(`upgrade refused with ${status}: ${body}`);
  }
}

/** The reply text a client reassembles from deltas, honouring `restart`. */
export function reassemble(frames: Frame[]): string {
  return replyText(frames);
}
