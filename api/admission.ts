/**
 * Admission control: an API process past its capacity refuses new chat requests at
 * once (`overloaded`, with a retry delay) instead of accepting work it would fail later
 * (docs/API.md "Overload"). Three signals, each cheap to read on every request:
 *
 * - streams: the requests this process relays right now (its followed streams). Each
 *   costs the process CPU per event and memory for its socket; the limit comes from the
 *   streams benchmark (BENCHMARKS.md).
 * - event-loop lag: how late this process runs a 50 ms timer, on average over a second.
 *   A starved loop delays every stream it relays; past the limit new work waits. Only
 *   lag that lasts counts: both of the last two seconds must be past the limit, so one
 *   long pause (a GC, a compile at startup) refuses nothing.
 * - backlog: chat starts waiting on Temporal, and how long recent chats waited from
 *   their `chat` frame to their LLM call starting (the median of the last three seconds'
 *   WebSocket chats). Either grows when Temporal, the workers or this process fall
 *   behind: new work then waits its turn at the client instead of in a queue here.
 *
 * Requests already accepted, and resumes of them, are never refused.
 */
import { ERRORS } from '../contracts/errors';
import type { AdmissionLimits } from '../lib/config';
import { overloadRefusalsTotal } from '../lib/metrics';
import { AppError } from './errors';

/** The lag probe's period, and the window its samples are averaged over. */
const LAG_TICK_MS = 50;
const LAG_WINDOW_MS = 1000;
/**
 * Queue delays older than this no longer count. Short, because refusing feeds the
 * signal nothing new: a window of slow chats (a cold start, a passing stall) refuses
 * for at most this long after the system has caught up.
 */
const QUEUE_WINDOW_MS = 3_000;
/**
 * Fewer recent delays than this say nothing: the signal is for a busy process (more
 * than three new chats a second), not a few chats that waited out a Postgres outage.
 */
export const QUEUE_MIN_SAMPLES = 10;
/** What a refused client is told to wait, in seconds. */
const RETRY_AFTER_S = 2;

export class Admission {
  private pendingStarts = 0;
  /** Mean lag of the last two complete windows (ms). */
  private lagMs = [0, 0];
  private readonly timer: NodeJS.Timeout;
  /** Recent queue delays: [when seen, ms]. */
  private delays: Array<[number, number]> = [];

  constructor(
    private readonly limits: AdmissionLimits,
    /** The streams this process relays now. */
    private readonly streams: () => number,
    /** The clock queue delays are timed by (injectable for tests). */
    private readonly now: () => number = () => performance.now(),
  ) {
    let expected = performance.now() + LAG_TICK_MS;
    let windowStart = performance.now();
    let sum = 0;
    let samples = 0;
    this.timer = setInterval(() => {
      const now = performance.now();
      sum += Math.max(0, now - expected);
      samples++;
      expected = now + LAG_TICK_MS;
      if (now - windowStart < LAG_WINDOW_MS) return;
      this.lagMs = [this.lagMs[1]!, sum / samples];
      windowStart = now;
      sum = samples = 0;
    }, LAG_TICK_MS);
    this.timer.unref();
  }

  /** Mean event-loop lag of the last complete second, in ms. */
  get eventLoopLagMs(): number {
    return this.lagMs[1]!;
  }

  /** A chat's time from its `chat` frame to its LLM call starting (api/ws-metrics.ts). */
  observeQueueDelay(ms: number): void {
    this.delays.push([this.now(), ms]);
    if (this.delays.length > 500) this.delays = this.delays.slice(-250);
  }

  /** Median queue delay of the last {@link QUEUE_WINDOW_MS}; 0 with too few samples. */
  get queueDelayMs(): number {
    const since = this.now() - QUEUE_WINDOW_MS;
    const recent = this.delays.filter(([at]) => at >= since).map(([, ms]) => ms);
    if (recent.length < QUEUE_MIN_SAMPLES) return 0;
    recent.sort((a, b) => a - b);
    return recent[recent.length >> 1]!;
  }

  /**
   * Runs `start` (a new request's start) when the process has room for it; otherwise
   * throws `overloaded` before any work is done.
   */
  async admit<T>(start: () => Promise<T>): Promise<T> {
    const reason = this.refusal();
    if (reason) {
      overloadRefusalsTotal.inc({ reason });
      throw new AppError(ERRORS.Overloaded, `${ERRORS.Overloaded.message} (${reason})`, RETRY_AFTER_S);
    }
    this.pendingStarts++;
    try {
      return await start();
    } finally {
      this.pendingStarts--;
    }
  }

  private refusal(): 'streams' | 'event_loop_lag' | 'backlog' | undefined {
    if (this.streams() + this.pendingStarts >= this.limits.maxStreams) return 'streams';
    if (Math.min(...this.lagMs) > this.limits.maxEventLoopLagMs) return 'event_loop_lag';
    if (this.pendingStarts >= this.limits.maxPendingStarts) return 'backlog';
    if (this.queueDelayMs > this.limits.maxQueueDelayMs) return 'backlog';
    return undefined;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
