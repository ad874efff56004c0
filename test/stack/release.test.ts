/**
 * The compiled release: `npm run build` emits dist/ (the runtime code as JavaScript,
 * the workflow bundle, the web app, the migrations), and the embedded LLM, a worker and the API run
 * from it with plain `node`, as in the image: no tsx anywhere in the processes, the
 * workers load the prebuilt bundle. Against the test stack /healthz answers ok and a
 * chat completes. The processes use a Temporal namespace of their own, so their
 * workers never take another test's tasks (the queue names are the production ones).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { signToken } from '../../api/auth';
import { loadConfig } from '../../lib/config';
import {
  processInfo,
  RELEASE_BUNDLE,
  RELEASE_ENTRY_POINTS,
  ROOT,
  startReleaseProcess,
  type ReleaseProcess,
} from '../../testkit/release';
import { TestClient } from '../../testkit/ws-client';
import { freePort } from '../../testkit/free-port';

/** tsc plus the bundle on a loaded two-core machine. */
const BUILD_TIMEOUT_MS = 240_000;
const BOOT_TIMEOUT_MS = 60_000;

const config = loadConfig();
const namespace = `release-test-${randomBytes(4).toString('hex')}`;
const jwtSecret = randomBytes(16).toString('hex');
const started: ReleaseProcess[] = [];
let connection: Connection | undefined;

/** Every .js file under `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => path.join(dir, f));
}

/** What a release process gets: the stack's addresses, nothing that loads tsx. */
function releaseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    JWT_SECRET: jwtSecret,
    TEMPORAL_PAYLOAD_KEYS: `release:${randomBytes(32).toString('base64')}`,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    TEMPORAL_ADDRESS: config.temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    WORKFLOW_BUNDLE_PATH: path.join(ROOT, RELEASE_BUNDLE),
    WORKER_METRICS_PORT: '0',
    TEMPORAL_METRICS_PORT: '0',
    ...extra,
  };
  delete env.NODE_OPTIONS;
  return env;
}

function assertPlainNode(p: ReleaseProcess, entry: string): void {
  const { argv, env } = processInfo(p.child.pid!);
  assert.deepEqual(argv, [process.execPath, entry], `${entry} runs as plain node`);
  assert.ok(!/tsx/.test(env.NODE_OPTIONS ?? ''), `${entry}: no tsx through NODE_OPTIONS`);
}

describe('compiled release', () => {
  before(async () => {
    const build = spawnSync('npm', ['run', 'build'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);
    connection = await Connection.connect({ address: config.temporalAddress });
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
  });

  after(async () => {
    await Promise.all(started.map((p) => p.stop()));
    await connection?.operatorService.deleteNamespace({ namespace }).catch(() => undefined);
    await connection?.close();
  });

  it('emits every entry point, the workflow bundle and the migrations, and no tsx', () => {
    for (const entry of [...RELEASE_ENTRY_POINTS, RELEASE_BUNDLE]) {
      assert.ok(existsSync(path.join(ROOT, entry)), `${entry} built`);
    }
    assert.ok(
      readdirSync(path.join(ROOT, 'dist', 'db', 'migrations')).some((f) => f.endsWith('.sql')),
    );
    for (const file of ['index.html', 'app.js', 'app.css', 'icon.svg']) {
      assert.ok(existsSync(path.join(ROOT, 'dist', 'web', file)), `dist/web/${file} built`);
    }
    const bundle = readFileSync(path.join(ROOT, RELEASE_BUNDLE), 'utf8');
    assert.match(bundle, /chatWorkflow/, 'the bundle holds the workflows');
    const tsxUsers = jsFiles(path.join(ROOT, 'dist')).filter((f) =>
      /require\(["']tsx|from ["']tsx/.test(readFileSync(f, 'utf8')),
    );
    assert.deepEqual(tsxUsers, [], 'no compiled file loads tsx');
  });

  it('runs the LLM, a worker and the API with plain node: /healthz ok, a chat completes', async () => {
    // All three boot together: the LLM's port is chosen up front.
    const llmPort = await freePort();
    const llm = startReleaseProcess(
      'dist/local-llm/main.js',
      releaseEnv({ LOCAL_LLM_PORT: String(llmPort) }),
    );
    const appEnv = releaseEnv({
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: `http://127.0.0.1:${llmPort}/v1`,
      PORT: '0',
    });
    const worker = startReleaseProcess('dist/workers/main.js', appEnv);
    const api = startReleaseProcess('dist/api/main.js', appEnv);
    started.push(llm, worker, api);
    await llm.waitForLine(/local llm listening/, BOOT_TIMEOUT_MS);
    await worker.waitForLine(/"worker started"/, BOOT_TIMEOUT_MS);
    const listening = await api.waitForLine(/"api listening"/, BOOT_TIMEOUT_MS);
    const port = (JSON.parse(listening) as { port: number }).port;
    for (const [p, entry] of [
      [llm, 'dist/local-llm/main.js'],
      [worker, 'dist/workers/main.js'],
      [api, 'dist/api/main.js'],
    ] as const) {
      assertPlainNode(p, entry);
    }

    const base = `http://127.0.0.1:${port}`;
    // The web app is served from the prebuilt dist/web (the runtime has no esbuild).
    for (const [route, type] of [
      ['/', 'text/html'],
      ['/app.js', 'text/javascript'],
      ['/app.css', 'text/css'],
      ['/icon.svg', 'image/svg\\+xml'], // a pattern: \+ is the plus sign
    ] as const) {
      const res = await fetch(base + route);
      assert.equal(res.status, 200, `${route}: ${res.status}`);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(type));
      assert.equal(
        await res.text(),
        readFileSync(
          path.join(ROOT, 'dist', 'web', route === '/' ? 'index.html' : route.slice(1)),
          'utf8',
        ),
      );
    }
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200, await health.clone().text());
    assert.equal(((await health.json()) as { status: string }).status, 'ok');

    const token = signToken(jwtSecret, { userId: randomUUID() });
    const created = await fetch(`${base}/v1/sessions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(created.status, 201);
    const { sessionId } = (await created.json()) as { sessionId: string };
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/ws`, {
      Authorization: `Bearer ${token}`,
    });
    try {
      const requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content: 'compiled [[tokens:6]]' });
      const end = await client.waitFor(
        (fs) =>
          fs.find((f) => f.requestId === requestId && (f.type === 'done' || f.type === 'error')),
        BOOT_TIMEOUT_MS,
        'the end of the chat',
      );
      assert.equal(end.type, 'done', JSON.stringify(end));
    } finally {
      client.ws.close();
    }
    assert.doesNotMatch(worker.output(), /bundl/i, 'the worker loaded the prebuilt bundle');
  });
});
