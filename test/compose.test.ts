/**
 * The deployment files are valid for their own tools: docker-compose.yml for the
 * Compose CLI, the Prometheus config and rules for promtool (scripts/check-compose.sh,
 * which installs what is missing), and the stack has the shape docs/ARCHITECTURE.md describes.
 * No Docker engine is needed. Skips, with the reason, when no Compose CLI can be had.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-compose.sh');
/** check-compose.sh's exit status when no Compose CLI is available or installable. */
const NO_COMPOSE = 77;
/** The first run may build the Compose CLI from source (a few minutes). */
const TIMEOUT_MS = 15 * 60_000;

interface ComposePort {
  target?: number;
  published?: string | number;
}

interface ComposeService {
  container_name?: string;
  ports?: Array<string | ComposePort>;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition?: string }>;
}

function runCheck(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Host ports a service publishes, from either Compose v2 (objects) or v1 ("h:c") output. */
function publishedPorts(service: ComposeService): string[] {
  return (service.ports ?? []).flatMap((p) => {
    if (typeof p === 'string') return p.includes(':') ? [p.split(':').slice(-2, -1)[0]!] : [];
    return p.published === undefined || p.published === '' ? [] : [String(p.published)];
  });
}

void test('docker-compose.yml passes `docker compose config`, monitoring files pass promtool', (t) => {
  const r = runCheck();
  if (r.status === NO_COMPOSE) {
    t.skip(`no Compose CLI could be obtained: ${r.stderr.trim()}`);
    return;
  }
  assert.equal(r.status, 0, `scripts/check-compose.sh failed:\n${r.stderr}${r.stdout}`);
});

void test('the compose stack has every service; workers scale and api publishes 3000', (t) => {
  const r = runCheck('--json');
  if (r.status === NO_COMPOSE) {
    t.skip(`no Compose CLI could be obtained: ${r.stderr.trim()}`);
    return;
  }
  assert.equal(r.status, 0, `compose config --format json failed:\n${r.stderr}`);
  const config = JSON.parse(r.stdout) as { services: Record<string, ComposeService> };
  const services = config.services;

  for (const name of [
    'api',
    'worker',
    'llm',
    'temporal',
    'temporal-setup',
    'temporal-ui',
    'postgresql',
    'redis',
    'prometheus',
    'grafana',
  ]) {
    assert.ok(services[name], `service ${name} is missing`);
  }

  const worker = services.worker!;
  assert.equal(worker.container_name, undefined, 'a scalable worker has no container_name');
  assert.deepEqual(publishedPorts(worker), [], 'a scalable worker publishes no host port');
  assert.deepEqual(worker.command, ['node', '--import', 'tsx', 'workers/main.ts']);
  assert.equal(worker.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(String(worker.environment?.WORKER_METRICS_PORT), '9464');
  assert.equal(worker.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');

  assert.deepEqual(publishedPorts(services.api!), ['3000']);
  assert.deepEqual(publishedPorts(services['temporal-ui']!), ['8233']);
  assert.deepEqual(publishedPorts(services.grafana!), ['3001']);
  assert.deepEqual(services.llm!.command, ['node', '--import', 'tsx', 'llm/main.ts']);

  const setup = [services['temporal-setup']!.command ?? []].flat().join(' ');
  for (const attribute of ['ToolName', 'SessionId']) {
    assert.match(
      setup,
      new RegExp(`\\b${attribute}\\b`),
      `search attribute ${attribute} not created`,
    );
  }
  assert.match(setup, /--type Keyword/);
});
