/**
 * Child processes started by the dev scripts: each is a {@link Started} handle that
 * stops gracefully, and all of them are tracked so a script can stop exactly what it
 * started, in reverse order, and nothing else.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from './log';

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Something a script started and must stop when it exits. */
export interface Started {
  readonly name: string;
  /** The process id, when the handle is a child process. */
  readonly pid?: number;
  /** Settles when the process ends, for whatever reason (never, for a system service). */
  readonly exited: Promise<ExitInfo>;
  /** Stops it: SIGTERM, then SIGKILL after 5 s. Resolves once it is gone. */
  stop(): Promise<void>;
}

/** How long {@link Started.stop} waits after SIGTERM before SIGKILL. */
export const STOP_GRACE_MS = 5_000;

const tracked: Started[] = [];
const liveGroups = new Set<number>();

/** Tracks a handle so {@link stopAll} stops it; returns it. */
export function track<T extends Started>(handle: T): T {
  tracked.push(handle);
  return handle;
}

/** Stops every tracked handle, most recently started first. */
export async function stopAll(log?: Logger): Promise<void> {
  while (tracked.length > 0) {
    const handle = tracked.pop()!;
    log?.info(`stopping ${handle.name}`);
    await handle.stop();
  }
}

// Last resort when the script exits without stopping its children (uncaught error):
// children run in their own process groups, so nothing else would stop them.
process.on('exit', () => {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
});

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Options of {@link spawnChild}. */
export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Where output goes: a file descriptor for both streams, a logger that prefixes
   * lines, this process's own stdout/stderr (`inherit`), or nowhere.
   */
  output: number | Logger | 'inherit' | 'ignore';
}

/**
 * Starts `command` in its own process group (so a terminal's Ctrl-C reaches only the
 * script, which then stops children in order) and tracks it.
 */
export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Started {
  const { output } = options;
  const stdio: StdioOptions =
    typeof output === 'number'
      ? ['ignore', output, output]
      : typeof output === 'object'
        ? ['ignore', 'pipe', 'pipe']
        : ['ignore', output, output];
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio, detached: true });
  const pid = child.pid ?? 0;
  if (pid) liveGroups.add(pid);
  if (typeof output === 'object') {
    pipeLines(child.stdout, (line) => output.child(name, line, 'stdout'));
    pipeLines(child.stderr, (line) => output.child(name, line, 'stderr'));
  }
  let done = false;
  const exited = new Promise<ExitInfo>((resolve) => {
    const finish = (info: ExitInfo): void => {
      if (done) return;
      done = true;
      liveGroups.delete(pid);
      resolve(info);
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    child.once('error', () => finish({ code: null, signal: null })); // e.g. ENOENT
  });
  const stop = async (): Promise<void> => {
    if (!pid) return;
    // Signal the group even if the leader is gone: helpers it spawned may linger.
    killGroup(pid, 'SIGTERM');
    if (done) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), STOP_GRACE_MS);
    });
    const result = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (result === 'timeout') {
      killGroup(pid, 'SIGKILL');
      await exited;
    }
  };
  return track({ name, pid, exited, stop });
}

function pipeLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

/** Result of {@link runCommand}. */
export interface CommandResult {
  code: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Runs a command to completion, capturing its output (spawn errors become code null). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (chunk: Buffer): void => {
      output += chunk.toString();
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.once('error', (err) => resolve({ code: null, output: output + err.message }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Fail at once if this process ends while waiting. */
  process?: Started;
}

/** Polls `check` until it answers true; throws on timeout or if the process ends first. */
export async function waitUntil(
  check: () => Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exit: ExitInfo | undefined;
  void options.process?.exited.then((info) => {
    exit = info;
  });
  for (;;) {
    if (exit) throw new Error(`${options.what} exited (${describeExit(exit)}) before it was ready`);
    if (await check()) return;
    if (Date.now() >= deadline) {
      throw new Error(`${options.what} was not ready after ${options.timeoutMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}

/** "code 1" or "signal SIGKILL". */
export function describeExit(info: ExitInfo): string {
  if (info.signal) return `signal ${info.signal}`;
  return info.code === null ? 'could not start' : `code ${info.code}`;
}
