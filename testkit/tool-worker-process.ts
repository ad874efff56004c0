/**
 * Starts `tool-worker.ts` as a child process serving a test system's tools queue, so
 * a test can SIGKILL it mid-tool; and builds the workflow bundle once for all workers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../lib/config';
import type { TaskQueues } from '../contracts/common';
import { bundleWorkflows } from '../workers/bundle';
import type { TestSystem } from './system';

export interface ToolWorkerProcess {
  child: ChildProcess;
  /** SIGKILLs the process (no graceful shutdown: as if its machine died). */
  kill(): void;
}

const ROOT = path.resolve(__dirname, '..');

/**
 * The prebuilt bundle of `npm test`, or one built now into a temp file (removed when
 * the process exits), so every worker of a run loads the same bundle without rebuilding.
 */
export async function ensureBundle(): Promise<string> {
  const prebuilt = loadConfig().workflowBundlePath;
  if (prebuilt) return prebuilt;
  const { code } = await bundleWorkflows();
  const file = path.join(tmpdir(), `workflow-bundle-${process.pid}-${Date.now()}.js`);
  await writeFile(file, code);
  process.once('exit', () => rmSync(file, { force: true }));
  return file;
}

/** Starts a worker process for `sys` serving `serve` (default: tools only); resolves once it polls. */
export function startToolWorker(
  sys: TestSystem,
  timeoutMs = 60_000,
  serve: ReadonlyArray<keyof TaskQueues> = ['tools'],
  /** Extra env vars of the process (e.g. its own `MCP_CONFIG`). */
  env: Readonly<Record<string, string>> = {},
): Promise<ToolWorkerProcess> {
  const script = path.join(ROOT, 'testkit/tool-worker.ts');
  const args = [
    '--import',
    'tsx',
    script,
    JSON.stringify(sys.config.taskQueues),
    JSON.stringify(serve),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      OPENAI_BASE_URL: sys.config.llm.baseUrl,
      OPENAI_API_KEY: '',
      DATABASE_URL: sys.config.databaseUrl,
      REDIS_URL: sys.config.redisUrl,
      TEMPORAL_ADDRESS: sys.config.temporalAddress,
      TEMPORAL_NAMESPACE: sys.config.temporalNamespace,
      WORKFLOW_BUNDLE_PATH: sys.config.workflowBundlePath ?? '',
      WORKER_METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle: ToolWorkerProcess = {
    child,
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      handle.kill();
      reject(new Error(`tool worker did not start in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve(handle);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`tool worker exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
  });
}
