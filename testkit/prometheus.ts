/**
 * A real Prometheus server for a test: the binary from scripts/ensure-prometheus.sh
 * (installed when missing), run as a child process with its config and TSDB in a temp
 * dir, on a free local port, scraping and evaluating rules every second.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

const ROOT = path.resolve(__dirname, '..');

/** One instant-vector sample of `/api/v1/query`. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One rule as `/api/v1/rules` reports it. */
export interface PromRule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  /** Alerting rules: `inactive`, `pending` (true, `for` not yet passed) or `firing`. */
  state?: string;
}

export interface Prometheus {
  url: string;
  /** Evaluates an instant query now; throws on a PromQL error. */
  query(expr: string): Promise<Sample[]>;
  /** Every loaded rule. */
  rules(): Promise<PromRule[]>;
  /** Scrape targets' health by job. */
  targets(): Promise<Array<{ job: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** job name -> `host:port` targets (all scraped on `/metrics`). */
  jobs: Record<string, string[]>;
  /** Also scrape Prometheus itself under this job name. */
  selfScrapeJob?: string;
  /** Rule files (absolute paths). */
  ruleFiles?: string[];
  timeoutMs?: number;
}


/** Path of a Prometheus binary (installs the Debian package when there is none). */
export async function ensurePrometheus(): Promise<string> {
  const { stdout } = await promisify(execFile)(
    'bash',
    [path.join(ROOT, 'scripts/ensure-prometheus.sh')],
    {
      timeout: 300_000,
    },
  );
  return stdout.trim();
}

function configYaml(options: PrometheusOptions): string {
  const lines = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...(options.ruleFiles ?? []).map((f) => `  - ${JSON.stringify(f)}`),
    'scrape_configs:',
  ];
  if (!options.ruleFiles?.length) lines.splice(lines.indexOf('rule_files:'), 1);
  for (const [job, targets] of Object.entries(options.jobs)) {
    lines.push(
      `  - job_name: ${JSON.stringify(job)}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ${JSON.stringify(targets)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data;
}

/** Starts Prometheus; resolves once it is ready. */
export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  const binary = await ensurePrometheus();
  const dir = await mkdtemp(path.join(tmpdir(), 'prometheus-test-'));
  const configFile = path.join(dir, 'prometheus.yml');
  const port = await freePort();
  const jobs = { ...options.jobs };
  if (options.selfScrapeJob) jobs[options.selfScrapeJob] = [`127.0.0.1:${port}`];
  await writeFile(configFile, configYaml({ ...options, jobs }));
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready in time: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    async query(expr) {
      const data = await getJson<{ resultType: string; result: Sample[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      return data.resultType === 'vector' || data.resultType === 'matrix' ? data.result : [];
    },
    async rules() {
      const data = await getJson<{ groups: Array<{ rules: PromRule[] }> }>(`${url}/api/v1/rules`);
      return data.groups.flatMap((g) => g.rules);
    },
    async targets() {
      const data = await getJson<{
        activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }>;
      }>(`${url}/api/v1/targets`);
      return data.activeTargets.map((t) => ({
        job: t.labels.job ?? '',
        health: t.health,
        lastError: t.lastError,
      }));
    },
    stop,
  };
}
