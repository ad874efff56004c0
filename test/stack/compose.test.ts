/**
 * The deployment files are valid for their own tools: docker-compose.yml for the
 * Compose CLI, the Prometheus config and rules for promtool (scripts/check-compose.sh,
 * which installs what is missing), and the stack has the shape docs/ARCHITECTURE.md describes.
 * No Docker engine is needed. Skips, with the reason, when no Compose CLI can be had.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEARCH_ATTRIBUTES } from '../../scripts/services/temporal';
import { RELEASE_BUNDLE, RELEASE_ENTRY_POINTS } from '../../testkit/release';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'check-compose.sh');
/** check-compose.sh's exit status when no Compose CLI is available or installable. */
const NO_COMPOSE = 77;
/** The first run may build the Compose CLI from source (a few minutes). */
const TIMEOUT_MS = 15 * 60_000;

interface ComposePort {
  target?: number;
  published?: string | number;
  host_ip?: string;
}

interface ComposeService {
  container_name?: string;
  ports?: Array<string | ComposePort>;
  command?: string[] | string;
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition?: string }>;
  volumes?: Array<{ source?: string; target?: string } | string>;
}

/** Secrets docker-compose.yml requires from .env; the check gets these values. */
const SECRETS = {
  JWT_SECRET: 'compose-test-jwt-secret-0123456789abcdef',
  POSTGRES_PASSWORD: 'compose-test-postgres-password',
  GRAFANA_ADMIN_PASSWORD: 'compose-test-grafana-password',
  TEMPORAL_PAYLOAD_KEYS: 'compose-test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
};

function runCheck(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [SCRIPT, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...SECRETS },
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

/** The interfaces a service publishes on, as `ip:port` (`*` = every interface). */
function publishedOn(service: ComposeService): string[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'string') {
      const parts = p.split(':');
      return parts.length === 3 ? `${parts[0]}:${parts[1]}` : `*:${parts[0]}`;
    }
    return `${p.host_ip || '*'}:${p.published}`;
  });
}

void test('docker-compose.yml is safe by default: production, no default secrets, unauthenticated ports on loopback', () => {
  const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  assert.match(compose, /NODE_ENV: \$\{NODE_ENV:-production\}/);
  for (const name of Object.keys(SECRETS)) {
    const uses = [...compose.matchAll(new RegExp(`\\$\\{${name}(:?[-?=+])?[^}]*\\}`, 'g'))].map(
      (m) => m[0],
    );
    assert.ok(uses.length > 0, `${name} is used`);
    for (const use of uses)
      assert.match(
        use,
        new RegExp(`^\\$\\{${name}:\\?`),
        `${name} is required, never defaulted: ${use}`,
      );
  }
  assert.doesNotMatch(compose, /change-me-in-production|admin\/admin|GRAFANA_ADMIN_PASSWORD:-/);
  const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  for (const name of Object.keys(SECRETS))
    assert.match(example, new RegExp(`^${name}=$`, 'm'), `.env.example lists ${name}, empty`);
});

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
    'migrate',
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
  assert.deepEqual(worker.command, ['node', 'dist/workers/main.js']);
  assert.equal(worker.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(String(worker.environment?.WORKER_METRICS_PORT), '9464');
  assert.equal(worker.depends_on?.['temporal-setup']?.condition, 'service_completed_successfully');

  assert.deepEqual(publishedPorts(services.api!), ['3000']);
  assert.deepEqual(publishedPorts(services['temporal-ui']!), ['8233']);
  // What has no authentication of its own is reachable from this host only.
  assert.deepEqual(publishedOn(services.temporal!), ['127.0.0.1:7233']);
  assert.deepEqual(publishedOn(services['temporal-ui']!), ['127.0.0.1:8233']);
  assert.deepEqual(publishedOn(services.prometheus!), ['127.0.0.1:9090']);
  // Secrets come from the environment (.env); production settings by default.
  for (const name of ['api', 'worker', 'migrate']) {
    assert.equal(
      services[name]!.environment?.NODE_ENV,
      'production',
      `${name} runs in production mode`,
    );
    assert.equal(
      services[name]!.environment?.JWT_SECRET,
      SECRETS.JWT_SECRET,
      `${name} gets JWT_SECRET from .env`,
    );
    assert.equal(
      services[name]!.environment?.TEMPORAL_PAYLOAD_KEYS,
      SECRETS.TEMPORAL_PAYLOAD_KEYS,
      `${name} encrypts payloads`,
    );
  }
  assert.equal(
    services.grafana!.environment?.GF_SECURITY_ADMIN_PASSWORD,
    SECRETS.GRAFANA_ADMIN_PASSWORD,
  );
  // The worker's metrics listen on the compose network for Prometheus (no host port).
  assert.equal(worker.environment?.METRICS_HOST, '0.0.0.0');
  // The server gets the chat path's dynamic config (eager activity dispatch).
  const temporal = services.temporal!;
  const mounted = (temporal.volumes ?? []).find(
    (v) =>
      typeof v === 'object' &&
      v.target?.endsWith(`/${temporal.environment?.DYNAMIC_CONFIG_FILE_PATH}`),
  );
  assert.ok(
    mounted && typeof mounted === 'object',
    'the dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH points',
  );
  const dynamic = readFileSync(path.join(ROOT, 'deploy', 'temporal-dynamicconfig.yaml'), 'utf8');
  assert.match(dynamic, /system\.enableActivityEagerExecution:\s*\n\s*- value: true/);
  assert.deepEqual(publishedPorts(services.grafana!), ['3001']);
  assert.deepEqual(services.llm!.command, ['node', 'dist/local-llm/main.js']);
  assert.deepEqual(services.api!.command, ['node', 'dist/api/main.js']);
  assert.deepEqual(services.migrate!.command, ['node', 'dist/scripts/migrate.js']);

  // The project's processes run the compiled release (npm run build), never tsx, and
  // the workers load the prebuilt bundle; the API and workers wait for the migrations.
  const bundle = `/app/${RELEASE_BUNDLE}`;
  for (const name of ['api', 'worker', 'llm', 'migrate']) {
    const command = [services[name]!.command ?? []].flat();
    assert.equal(command[0], 'node', `${name} runs node`);
    assert.ok(
      (RELEASE_ENTRY_POINTS as readonly string[]).includes(command[1] ?? ''),
      `${name} runs a release entry point: ${command.join(' ')}`,
    );
    assert.doesNotMatch(command.join(' '), /tsx|\.ts\b/, `${name} runs no TypeScript`);
  }
  for (const name of ['api', 'worker']) {
    assert.equal(
      services[name]!.environment?.WORKFLOW_BUNDLE_PATH,
      bundle,
      `${name} loads the prebuilt bundle`,
    );
    assert.equal(services[name]!.depends_on?.migrate?.condition, 'service_completed_successfully');
  }

  const setup = [services['temporal-setup']!.command ?? []].flat().join(' ');
  // Every attribute the dev server gets (scripts/services/temporal.ts), with its type.
  for (const [attribute, type] of Object.entries(SEARCH_ATTRIBUTES)) {
    assert.match(
      setup,
      new RegExp(`\\b${attribute}:${type}\\b`),
      `search attribute ${attribute} (${type}) not created`,
    );
  }
  assert.match(setup, /search-attribute create .*--name "\$\$name" --type "\$\$type"/);
});

void test('the Dockerfile builds the release in one stage and runs it on production dependencies', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  const stages = lines.flatMap((l, i) => (/^FROM\s/i.test(l) ? [i] : []));
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  const build = lines.slice(stages[0], stages[1]).join('\n');
  const runtime = lines.slice(stages[1]).join('\n');
  assert.match(build, /RUN npm ci\b/);
  assert.match(build, /RUN npm run build\b/);
  assert.match(
    runtime,
    /RUN npm ci --omit=dev\b/,
    'the runtime has no dev dependencies (no tsx, no TypeScript)',
  );
  assert.match(
    runtime,
    /COPY --from=build\b.*\/app\/dist\b/,
    'the runtime gets dist/ from the build stage',
  );
  assert.match(
    runtime,
    new RegExp(`ENV WORKFLOW_BUNDLE_PATH=/app/${RELEASE_BUNDLE.replace('.', '\\.')}`),
  );
  const cmd = /^CMD\s+(\[.*\])\s*$/m.exec(runtime);
  assert.ok(cmd, 'a CMD in exec form');
  assert.deepEqual(JSON.parse(cmd[1]!), ['node', 'dist/api/main.js']);
  assert.doesNotMatch(runtime, /tsx/, 'nothing in the runtime stage runs tsx');
  // tsx is a dev dependency, so `npm ci --omit=dev` leaves it out.
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies.tsx, undefined);
  assert.ok(pkg.devDependencies.tsx);
});
