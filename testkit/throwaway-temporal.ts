/**
 * A throwaway Temporal dev server on a free port, for tests and benchmarks that need
 * other server settings (eager start off, storage experiments): started by them,
 * stopped by them; the shared one is untouched. Also: CPU time of a server process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { loadToolingConfig } from '../lib/config';
import { SEARCH_ATTRIBUTES, findTemporalBinary } from '../scripts/services/temporal';
import { freePort } from './free-port';

export interface ServerOptions {
  /** Persist to a SQLite file in a temp dir (like the shared dev server) instead of memory. */
  file?: boolean;
  /** `--sqlite-pragma` values, e.g. `journal_mode=wal`. */
  pragmas?: string[];
  /** `--dynamic-config-value` pairs, e.g. `system.enableActivityEagerExecution: 'true'`. */
  dynamicConfig?: Record<string, string>;
}

export interface ThrowawayServer {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a dev server and waits until it answers (at most 60 s). */
/** CPU time (user + system) a process has used so far, in ms (Linux). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

/**
 * The pid of the local process listening on a TCP port (Linux, best effort: undefined
 * when it cannot be found, e.g. a server in another container).
 */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) return Number(pid);
      }
    } catch {
      /* gone, or not ours to read */
    }
  }
  return undefined;
}

export async function startThrowawayServer(opts: ServerOptions = {}): Promise<ThrowawayServer> {
  const binary = loadToolingConfig().temporalCli ?? findTemporalBinary();
  if (!binary) throw new Error('no temporal CLI found (TEMPORAL_CLI or PATH)');
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-temporal-'));
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'];
  args.push('--log-level', 'error');
  if (opts.file) args.push('--db-filename', path.join(dir, 'temporal.db'));
  for (const p of opts.pragmas ?? []) args.push('--sqlite-pragma', p);
  for (const [k, v] of Object.entries(opts.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${k}=${v}`);
  for (const [k, v] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${k}=${v}`);
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.describeNamespace({ namespace: 'default' });
      await conn.close();
      return { address, pid: child.pid ?? 0, stop };
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`throwaway Temporal server did not start: ${String(err)}`);
      }
      await sleep(300);
    }
  }
}
