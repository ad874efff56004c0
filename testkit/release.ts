/**
 * The compiled release as the image and docker-compose.yml run it: the entry points
 * `npm run build` emits under dist/, and a way to start them with plain `node`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');

/** Every process the image runs (Dockerfile CMD, docker-compose.yml commands, ops). */
export const RELEASE_ENTRY_POINTS = [
  'dist/api/main.js',
  'dist/workers/main.js',
  'dist/local-llm/main.js',
  'dist/scripts/migrate.js',
  'dist/scripts/ops.js',
] as const;

/** The workflow bundle built at build time (the image's `WORKFLOW_BUNDLE_PATH`). */
export const RELEASE_BUNDLE = 'dist/workflow-bundle.js';

export interface ReleaseProcess {
  child: ChildProcess;
  /** Everything it wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first output line matching `re` (or rejects on exit / timeout). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `node <entry>` with nothing else on the command line (no `--import tsx`). */
export function startReleaseProcess(entry: string, env: NodeJS.ProcessEnv): ReleaseProcess {
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    output += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = once(child, 'exit');
  return {
    child,
    output: () => output,
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (err?: Error, line?: string) => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(line!);
        };
        const check = () => {
          const line = output.split('\n').find((l) => re.test(l));
          if (line !== undefined) done(undefined, line);
        };
        const onExit = (code: number | null) =>
          done(new Error(`${entry} exited (${code}) before ${re}:\n${output.slice(-3000)}`));
        const timer = setTimeout(
          () =>
            done(new Error(`${entry}: no ${re} within ${timeoutMs} ms:\n${output.slice(-3000)}`)),
          timeoutMs,
        );
        listeners.add(check);
        child.on('exit', onExit);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A running process's command line and environment, as the kernel sees them (Linux). */
export function processInfo(pid: number): { argv: string[]; env: Record<string, string> } {
  const split = (file: string) =>
    readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter(Boolean);
  const env: Record<string, string> = {};
  for (const kv of split('environ')) {
    const i = kv.indexOf('=');
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { argv: split('cmdline'), env };
}
