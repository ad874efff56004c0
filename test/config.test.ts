/**
 * lib/config.ts, on pure values (no services needed): the settings it adds for logging
 * and the embedded LLM, and the README promise that every variable it reads is in the
 * configuration tables.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, loadLocalLlmConfig, loadToolingConfig } from '../lib/config';

const ROOT = path.resolve(__dirname, '..');

/** Every variable name lib/config.ts reads: `int(env, 'X', ...)`, `env.X` and the like. */
function variablesRead(): string[] {
  const source = readFileSync(path.join(ROOT, 'lib', 'config.ts'), 'utf8');
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:str|int|bool|oneOf)\(env, '([A-Z0-9_]+)'/g)) names.add(m[1]!);
  for (const m of source.matchAll(/\benv\.([A-Z0-9_]+)/g)) names.add(m[1]!);
  return [...names].sort();
}

describe('configuration', () => {
  it('documents every variable it reads in the README tables', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    const names = variablesRead();
    assert.ok(names.length > 40, `found the variables (${names.length})`);
    const missing = names.filter((name) => !rows.some((row) => row.split('|')[1]?.includes(`\`${name}\``)));
    assert.deepEqual(missing, [], 'variables missing from the README configuration tables');
  });

  it('reads LOG_LEVEL, refusing unknown levels', () => {
    assert.equal(loadConfig({}).logLevel, 'info');
    assert.equal(loadConfig({ LOG_LEVEL: 'debug' }).logLevel, 'debug');
    assert.throws(() => loadConfig({ LOG_LEVEL: 'verbose' }), ConfigError);
  });

  it('reads WORKFLOW_BUNDLE_PATH', () => {
    assert.equal(loadConfig({}).workflowBundlePath, undefined);
    assert.equal(loadConfig({ WORKFLOW_BUNDLE_PATH: '/app/dist/workflow-bundle.js' }).workflowBundlePath, '/app/dist/workflow-bundle.js');
  });

  it("reads the embedded LLM's host and port without the app's settings", () => {
    assert.deepEqual({ ...loadLocalLlmConfig({}) }, { host: '127.0.0.1', port: 8787 });
    // In the image NODE_ENV=production: the LLM needs no JWT_SECRET to start.
    const container = loadLocalLlmConfig({ NODE_ENV: 'production', LOCAL_LLM_HOST: '0.0.0.0', LOCAL_LLM_PORT: '0' });
    assert.deepEqual({ ...container }, { host: '0.0.0.0', port: 0 });
    assert.throws(() => loadLocalLlmConfig({ LOCAL_LLM_PORT: '70000' }), ConfigError);
    assert.throws(() => loadLocalLlmConfig({ LOCAL_LLM_PORT: 'x' }), ConfigError);
  });

  it("reads the dev scripts' settings", () => {
    const tooling = loadToolingConfig({ PORT: '4000', PATH: `/a${path.delimiter}${path.delimiter}/b`, CHAT_TOKEN: 't' });
    assert.equal(tooling.chatUrl, 'http://127.0.0.1:4000');
    assert.equal(tooling.chatToken, 't');
    assert.deepEqual(tooling.searchPath, ['/a', '/b']);
    assert.match(tooling.toolsDir, /\.cache[/\\]durable-chat$/);
    assert.equal(loadToolingConfig({ DURABLE_CHAT_TOOLS: '/opt/tools' }).toolsDir, '/opt/tools');
    assert.equal(loadToolingConfig({ CHAT_URL: 'http://api:3000' }).chatUrl, 'http://api:3000');
  });
});
