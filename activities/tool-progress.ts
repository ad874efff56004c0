/**
 * Progress of a long-running tool. One helper drives both channels (docs/ARCHITECTURE.md
 * "Heartbeats are the progress channel"): it heartbeats `{progress, message,
 * checkpoint}` (shown in the Temporal UI, and what a retried attempt resumes from)
 * and writes the same progress as a `tool_progress` event to the chat request's
 * stream. It reports on every change and on a timer, so the client hears from the tool
 * every few seconds even while one step (one slow LLM call) takes much longer.
 */
import type { Context } from '@temporalio/activity';
import type { ToolHeartbeat } from '../contracts/tool';
import { trackRunningTool } from '../lib/metrics';
import type { ActivityDeps } from './deps';

/**
 * Reporting period; the contract promises the client progress at least every 5 s. One
 * heartbeat and one `tool_progress` event per second per running tool: the heartbeat
 * timeout (workflows/tool.ts) is 3 s, and heartbeats must keep well inside it.
 */
export const TOOL_PROGRESS_INTERVAL_MS = 1000;

export interface ProgressTarget {
  userId: string;
  requestId: string;
  taskId: string;
}

/** Heartbeats and relays a long tool's progress until stopped. */
export class ToolProgressReporter<C> {
  private timer: NodeJS.Timeout | undefined;
  /** Event writes run one after another (in order); a slow Redis cannot pile them up. */
  private writes: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private stopped = false;
  /** Ends this attempt's share of `tools_running` / `tool_oldest_running_seconds`. */
  private untrack: (() => void) | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly deps: Pick<ActivityDeps, 'events' | 'clock' | 'logger'>,
    private readonly target: ProgressTarget,
    private readonly snapshot: () => ToolHeartbeat<C>,
    private readonly intervalMs = TOOL_PROGRESS_INTERVAL_MS,
  ) {}

  /** Reports now, then every interval. */
  start(): void {
    this.untrack ??= trackRunningTool();
    void this.report();
    this.timer = setInterval(() => void this.report(), this.intervalMs);
  }

  /**
   * Heartbeats the current snapshot and relays it to the client. While an earlier
   * event is still being written, a routine report only heartbeats (the next one
   * carries newer progress anyway); a `final` one (done, cancelled) always waits its
   * turn and is written. Never throws: a failed write is logged.
   */
  async report(final = false): Promise<void> {
    if (this.stopped) return;
    const beat = this.snapshot();
    const emittedAt = this.deps.clock().toISOString();
    this.ctx.heartbeat(beat);
    if (this.inFlight > 0 && !final) return;
    this.inFlight++;
    const write = this.writes.then(() => this.write(beat, emittedAt));
    this.writes = write;
    try {
      await write;
    } finally {
      this.inFlight--;
    }
  }

  private async write(beat: ToolHeartbeat<C>, emittedAt: string): Promise<void> {
    try {
      await this.deps.events.append(this.target.userId, this.target.requestId, {
        type: 'tool_progress',
        taskId: this.target.taskId,
        progress: beat.progress,
        message: beat.message,
        emittedAt,
      });
    } catch (err) {
      this.deps.logger.warn('could not write tool progress', { err, taskId: this.target.taskId });
    }
  }

  /** Stops the timer; later reports do nothing. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.untrack?.();
  }
}
