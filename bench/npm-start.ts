/**
 * Runs what users run: `npm start`'s program (scripts/start.ts) as a child, with its
 * API, worker and embedded LLM as separate processes, and finds their pids so a
 * benchmark can read each one's CPU time and memory from /proc.
 */
import { mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../lib/config';
import { spawnChild, type Started } from '../scripts/stack';
import { freePort } from '../testkit/free-port';
import { pidListeningOn, processCpuMs } from '../testkit/throwaway-temporal';

const ROOT = path.resolve(__dirname, '..');
const READY_TIMEOUT_MS = 120_000;
/** What the started processes print (warnings and errors only). */
export const LOG_FILE = path.join(ROOT, '.data', 'bench', 'npm-start.log');

/** The processes of one `npm start`, by role (the services it reused included). */
export interface StartedStack {
  baseUrl: string;
  wsUrl: string;
  pids: { api: number; worker: number; llm: number; temporal?: number; redis?: number };
  /** CPU ms so far of each role. */
  cpu(): Record<string, number>;
  /** Resident memory of a role's process, in MB. */
  rssMb(role: 'api' | 'worker' | 'llm'): number;
  stop(): Promise<void>;
}

/** Starts `npm start`'s program with `env` added to the harness's; resolves once /healthz is 200. */
export async function startNpmStack(env: NodeJS.ProcessEnv = {}): Promise<StartedStack> {
  const port = await freePort();
  const llmPort = await freePort();
  mkdirSync(path.dirname(LOG_FILE), { recursive: true });
  const child: Started = spawnChild(
    'start',
    process.execPath,
    ['--import', 'tsx', 'scripts/start.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        LOCAL_LLM_PORT: String(llmPort),
        LOG_LEVEL: 'warn',
        ...env,
      },
      output: openSync(LOG_FILE, 'a'),
    },
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const ok = await fetch(`${baseUrl}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('npm start: the API did not become healthy');
    await sleep(250);
  }
  const children = childrenOf(child.pid!);
  const find = (entry: string) => {
    const pid = children.find((c) => c.cmdline.includes(entry))?.pid;
    if (!pid) throw new Error(`npm start: no process runs ${entry}`);
    return pid;
  };
  const temporalPort = Number(loadConfig().temporalAddress.split(':').at(-1));
  const pids = {
    api: find('api/main.ts'),
    worker: find('workers/main.ts'),
    llm: find('local-llm/main.ts'),
    temporal: pidListeningOn(temporalPort),
    redis: pidListeningOn(6379),
  };
  return {
    baseUrl,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    pids,
    cpu: () => {
      const out: Record<string, number> = {};
      for (const [role, pid] of Object.entries(pids)) out[role] = pid ? safeCpuMs(pid) : NaN;
      return out;
    },
    rssMb: (role) => rssMb(pids[role]),
    async stop() {
      if (child.pid) process.kill(child.pid, 'SIGINT');
      await child.exited;
    },
  };
}

function safeCpuMs(pid: number): number {
  try {
    return processCpuMs(pid);
  } catch {
    return NaN;
  }
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Direct children of `parent`, with their command lines. */
function childrenOf(parent: number): Array<{ pid: number; cmdline: string }> {
  const out: Array<{ pid: number; cmdline: string }> = [];
  for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent) continue;
      out.push({
        pid: Number(d),
        cmdline: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '),
      });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
