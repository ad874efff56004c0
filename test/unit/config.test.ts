/**
 * lib/config.ts, on pure values (no services needed): the settings it adds for logging
 * and the embedded LLM, and the README promise that every variable it reads is in the
 * configuration tables.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ConfigError,
  DEV_JWT_SECRET,
  loadConfig,
  loadLocalLlmConfig,
  loadToolingConfig,
  MIN_PRODUCTION_SECRET_BYTES,
} from '../../lib/config';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every variable name lib/config.ts reads: `int(env, 'X', ...)`, `env.X` and the like. */
function variablesRead(): string[] {
  const source = readFileSync(path.join(ROOT, 'lib', 'config.ts'), 'utf8');
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:str|int|bool|oneOf)\(env, '([A-Z0-9_]+)'/g))
    names.add(m[1]!);
  for (const m of source.matchAll(/\benv\.([A-Z0-9_]+)/g)) names.add(m[1]!);
  return [...names].sort();
}

describe('configuration', () => {
  it('documents every variable it reads in the README tables', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    const names = variablesRead();
    assert.ok(names.length > 40, `found the variables (${names.length})`);
    const missing = names.filter(
      (name) => !rows.some((row) => row.split('|')[1]?.includes(`\`${name}\``)),
    );
    assert.deepEqual(missing, [], 'variables missing from the README configuration tables');
  });

  it('reads LOG_LEVEL, refusing unknown levels', () => {
    assert.equal(loadConfig({}).logLevel, 'info');
    assert.equal(loadConfig({ LOG_LEVEL: 'debug' }).logLevel, 'debug');
    assert.throws(() => loadConfig({ LOG_LEVEL: 'verbose' }), ConfigError);
  });

  it('reads WORKFLOW_BUNDLE_PATH', () => {
    assert.equal(loadConfig({}).workflowBundlePath, undefined);
    assert.equal(
      loadConfig({ WORKFLOW_BUNDLE_PATH: '/app/dist/workflow-bundle.js' }).workflowBundlePath,
      '/app/dist/workflow-bundle.js',
    );
  });

  it("reads the embedded LLM's host and port without the app's settings", () => {
    assert.deepEqual({ ...loadLocalLlmConfig({}) }, { host: '127.0.0.1', port: 8787 });
    // In the image NODE_ENV=production: the LLM needs no JWT_SECRET to start.
    const container = loadLocalLlmConfig({
      NODE_ENV: 'production',
      LOCAL_LLM_HOST: '0.0.0.0',
      LOCAL_LLM_PORT: '0',
    });
    assert.deepEqual({ ...container }, { host: '0.0.0.0', port: 0 });
    assert.throws(() => loadLocalLlmConfig({ LOCAL_LLM_PORT: '70000' }), ConfigError);
    assert.throws(() => loadLocalLlmConfig({ LOCAL_LLM_PORT: 'x' }), ConfigError);
  });

  it("reads the dev scripts' settings", () => {
    const tooling = loadToolingConfig({
      PORT: '4000',
      PATH: `/a${path.delimiter}${path.delimiter}/b`,
      CHAT_TOKEN: 't',
    });
    assert.equal(tooling.chatUrl, 'http://127.0.0.1:4000');
    assert.equal(tooling.chatToken, 't');
    assert.deepEqual(tooling.searchPath, ['/a', '/b']);
    assert.match(tooling.toolsDir, /\.cache[/\\]durable-chat$/);
    assert.equal(loadToolingConfig({ DURABLE_CHAT_TOOLS: '/opt/tools' }).toolsDir, '/opt/tools');
    assert.equal(loadToolingConfig({ CHAT_URL: 'http://api:3000' }).chatUrl, 'http://api:3000');
  });

  it('in production refuses a JWT_SECRET that is missing, short or published, without printing it', () => {
    const production = (JWT_SECRET?: string) => () =>
      loadConfig({ NODE_ENV: 'production', ...(JWT_SECRET !== undefined ? { JWT_SECRET } : {}) });
    const refusals: Array<[string | undefined, RegExp]> = [
      [undefined, /JWT_SECRET must be set/],
      ['shortS3cret', /JWT_SECRET is 11 bytes; production needs at least 32/],
      ['s3cr3t-but-only-31-bytes-long!!', /is 31 bytes/],
      [DEV_JWT_SECRET, /default secret published with this project/],
      ['change-me-in-production', /default secret published/],
    ];
    for (const [secret, message] of refusals) {
      assert.throws(production(secret), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        assert.match(err.message, /openssl rand -hex 32/, 'says how to make one');
        if (secret) assert.ok(!err.message.includes(secret), 'the secret is not in the message');
        return true;
      });
    }
    const strong = 'x'.repeat(MIN_PRODUCTION_SECRET_BYTES);
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    assert.equal(
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: strong, TEMPORAL_PAYLOAD_KEYS: keys })
        .jwtSecret,
      strong,
    );
    // Outside production the dev secret and short secrets still work.
    assert.equal(loadConfig({}).jwtSecret, DEV_JWT_SECRET);
    assert.equal(loadConfig({ JWT_SECRET: 'a' }).jwtSecret, 'a');
  });

  it('binds worker metrics to 127.0.0.1 unless METRICS_HOST says otherwise', () => {
    assert.equal(loadConfig({}).metricsHost, '127.0.0.1');
    assert.equal(loadConfig({ METRICS_HOST: '0.0.0.0' }).metricsHost, '0.0.0.0');
  });

  it('in production requires TEMPORAL_PAYLOAD_KEYS (encrypted payloads)', () => {
    const production = {
      NODE_ENV: 'production',
      JWT_SECRET: 'y'.repeat(MIN_PRODUCTION_SECRET_BYTES),
    };
    assert.throws(() => loadConfig(production), /TEMPORAL_PAYLOAD_KEYS must be set in production/);
    const keys = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    assert.equal(loadConfig({ ...production, TEMPORAL_PAYLOAD_KEYS: keys }).payloadKeys.length, 1);
  });
});
