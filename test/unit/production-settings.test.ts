/**
 * Production settings, on the real entry points (issue 20): a weak JWT_SECRET stops the
 * API with one line that names the problem (and not the secret), and a worker's metrics
 * endpoints listen on 127.0.0.1 unless METRICS_HOST says otherwise. Needs no service: the
 * API stops before it connects anywhere, the worker is given a Temporal that never answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { eventually } from '../../testkit/poll';
import { freePort } from '../../testkit/free-port';

const ROOT = path.resolve(__dirname, '..', '..');

/** Starts `node --import tsx <entry>`; `exited` resolves with its exit code and stderr. */
function start(entry: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  return { child, exited };
}

/** True when a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

// The two start processes that mostly wait (tsx loading the entry point): run side by side.
void describe('production settings', { concurrency: true }, () => {
  void test('with NODE_ENV=production a short JWT_SECRET stops the API with one clear line', async () => {
    const secret = 'shortS3cret';
    const api = start('api/main.ts', {
      ...process.env,
      NODE_ENV: 'production',
      JWT_SECRET: secret,
      PORT: '0',
    });
    const timer = setTimeout(() => api.child.kill('SIGKILL'), 30_000);
    const { code, stderr } = await api.exited;
    clearTimeout(timer);
    assert.notEqual(code, 0, 'the API refused to start');
    assert.notEqual(code, null, 'the API exited by itself');
    const lines = stderr.split('\n').filter((l) => l.trim());
    assert.equal(lines.length, 1, `one line:\n${stderr}`);
    assert.match(lines[0]!, /JWT_SECRET is 11 bytes; production needs at least 32/);
    assert.ok(!stderr.includes(secret), 'the secret is never printed');
  });

  void test("a worker's metrics endpoints listen on 127.0.0.1 by default", async (t) => {
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
    if (!outside) {
      t.skip('this machine has no non-loopback IPv4 address to probe from');
      return;
    }
    // A Temporal address that accepts and never answers: the worker gets as far as its
    // metrics endpoints (they start before the connection) and waits there.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const [metricsPort, temporalMetricsPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: `127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
      WORKER_METRICS_PORT: String(metricsPort),
      TEMPORAL_METRICS_PORT: String(temporalMetricsPort),
    };
    delete env.METRICS_HOST;
    const worker = start('workers/main.ts', env);
    try {
      await eventually(
        'the worker metrics endpoint',
        () => accepts('127.0.0.1', metricsPort),
        45_000,
      );
      await eventually(
        'the Temporal SDK metrics endpoint',
        () => accepts('127.0.0.1', temporalMetricsPort),
        10_000,
      );
      assert.equal(
        await accepts(outside, metricsPort),
        false,
        `worker metrics reachable on ${outside}`,
      );
      assert.equal(
        await accepts(outside, temporalMetricsPort),
        false,
        `Temporal SDK metrics reachable on ${outside}`,
      );
    } finally {
      worker.child.kill('SIGKILL');
      silent.close();
    }
    await worker.exited;
  });
});
