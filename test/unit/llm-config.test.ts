/**
 * `LLM_CONFIG` (models/llm-config.ts) and the model catalog (models/catalog.ts) on pure
 * values: a bad file refuses start with one line naming the key at fault, an unset
 * `apiKeyEnv` skips its provider with a warning, and loadConfig without the file runs
 * as before (one implicit provider, any model name).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/config';
import { costUsd, listedModels, resolveModel, routeOf } from '../../models/catalog';
import { LlmConfigError, parseLlmConfig } from '../../models/llm-config';
import { catalogModelTable } from '../../prompt/tokens';

const ROOT = path.resolve(__dirname, '..', '..');

const GOOD = {
  providers: {
    main: { baseUrl: 'https://llm.example/v1/', apiKeyEnv: 'MAIN_API_KEY' },
    backup: { baseUrl: 'http://127.0.0.1:8788/v1', prices: { 'gpt-4o-mini': { inputPerMTok: 0.3, outputPerMTok: 1.2 } } },
  },
  models: {
    'gpt-4o-mini': {
      route: ['main/gpt-4o-mini', 'backup/gpt-4o-mini'],
      contextWindow: 64000,
      price: { inputPerMTok: 0.15, outputPerMTok: 0.6 },
    },
    cheap: { route: ['backup/llama-3'] },
  },
  defaultModel: 'gpt-4o-mini',
};

const parse = (config: unknown, env: Record<string, string> = { MAIN_API_KEY: 'sk-main' }) =>
  parseLlmConfig(typeof config === 'string' ? config : JSON.stringify(config), env);

/** Asserts that `config` is refused with one line naming `key`. */
function refused(config: unknown, key: string): void {
  assert.throws(
    () => parse(config),
    (err: unknown) => {
      assert.ok(err instanceof LlmConfigError, String(err));
      assert.ok(!err.message.includes('\n'), 'one line');
      assert.ok(err.message.startsWith(`LLM_CONFIG ${key}`), err.message);
      return true;
    },
  );
}

const clone = (): any => JSON.parse(JSON.stringify(GOOD));

describe('LLM_CONFIG', () => {
  it('builds routes, prices, context windows and the default model', () => {
    const { catalog, warnings } = parse(GOOD);
    const modelTable = catalogModelTable(catalog);
    assert.deepEqual(warnings, []);
    assert.equal(catalog.defaultModel, 'gpt-4o-mini');
    const route = routeOf(catalog, 'gpt-4o-mini');
    assert.deepEqual(
      route.map((t) => [t.provider.name, t.provider.baseUrl, t.provider.apiKey, t.upstream]),
      [
        ['main', 'https://llm.example/v1', 'sk-main', 'gpt-4o-mini'],
        ['backup', 'http://127.0.0.1:8788/v1', '', 'gpt-4o-mini'],
      ],
    );
    assert.deepEqual(route[0]?.price, { inputPerMTok: 0.15, outputPerMTok: 0.6 }, "the model's price");
    assert.deepEqual(route[1]?.price, { inputPerMTok: 0.3, outputPerMTok: 1.2 }, "the provider's own price wins");
    assert.equal(routeOf(catalog, 'cheap')[0]?.price, undefined);
    assert.deepEqual(modelTable['gpt-4o-mini'], { encoding: 'o200k_base', contextWindow: 64000 });
    assert.equal(modelTable.cheap?.contextWindow, 128_000, 'the known default when not given');
    assert.deepEqual(listedModels(catalog), ['gpt-4o-mini', 'cheap']);
  });

  it('refuses a file that does not parse', () => refused('{"providers": ', 'file'));
  it('refuses a route naming a provider that is not defined', () => {
    const c = clone();
    c.models.cheap.route = ['backup/x', 'bakup/x'];
    refused(c, 'models.cheap.route[1]');
  });
  it('refuses an empty route', () => {
    const c = clone();
    c.models.cheap.route = [];
    refused(c, 'models.cheap.route');
  });
  it('refuses a negative price, on a model or a provider', () => {
    const c = clone();
    c.models['gpt-4o-mini'].price.outputPerMTok = -1;
    refused(c, 'models.gpt-4o-mini.price.outputPerMTok');
    const d = clone();
    d.providers.backup.prices['gpt-4o-mini'].inputPerMTok = -0.1;
    refused(d, 'providers.backup.prices.gpt-4o-mini.inputPerMTok');
  });
  it('refuses a route step that is not provider/model, a bad URL, a default that is no model', () => {
    const c = clone();
    c.models.cheap.route = ['backup'];
    refused(c, 'models.cheap.route[0]');
    const d = clone();
    d.providers.main.baseUrl = 'ftp://x';
    refused(d, 'providers.main.baseUrl');
    const e = clone();
    e.defaultModel = 'nope';
    refused(e, 'defaultModel');
    refused({ providers: {}, models: {} }, 'providers');
  });

  it('skips a provider whose apiKeyEnv is unset, with a warning; its route steps go', () => {
    const { catalog, warnings } = parse(GOOD, {});
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /providers\.main: MAIN_API_KEY is not set; provider skipped/);
    assert.deepEqual(routeOf(catalog, 'gpt-4o-mini').map((t) => t.provider.name), ['backup']);
  });

  it('refuses when the default model has no provider left', () => {
    const c = clone();
    c.models['gpt-4o-mini'].route = ['main/gpt-4o-mini'];
    assert.throws(() => parse(c, {}), /LLM_CONFIG defaultModel: "gpt-4o-mini" has no provider left/);
  });

  it('resolves the model of a request: named, default, or unknown', () => {
    const { catalog } = parse(GOOD);
    assert.equal(resolveModel(catalog, undefined), 'gpt-4o-mini');
    assert.equal(resolveModel(catalog, 'cheap'), 'cheap');
    assert.equal(resolveModel(catalog, 'gpt-4o'), undefined);
    assert.equal(resolveModel(catalog, 'constructor'), undefined, 'no inherited names');
  });

  it('prices a call to the nano-dollar', () => {
    assert.equal(costUsd({ inputPerMTok: 0.15, outputPerMTok: 0.6 }, 1000, 500), 0.00045);
    assert.equal(costUsd(undefined, 1000, 500), undefined);
  });
});

describe('loadConfig with and without LLM_CONFIG', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'llm-config-unit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('without it: one implicit provider that takes any model name, as before', () => {
    const config = loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    assert.equal(config.models.configured, false);
    assert.equal(resolveModel(config.models, undefined), 'gpt-4o-mini');
    assert.equal(resolveModel(config.models, 'anything'), 'anything');
    assert.deepEqual(routeOf(config.models, 'anything').map((t) => [t.provider.baseUrl, t.upstream]), [['http://127.0.0.1:9/v1', 'anything']]);
    assert.equal(config.llmFirstTokenTimeoutMs, 30_000);
  });

  it('with it: the catalog, its context windows in the model table, its default as the chat model', () => {
    const file = path.join(dir, 'good.json');
    writeFileSync(file, JSON.stringify(GOOD));
    const config = loadConfig({ LLM_CONFIG: file, MAIN_API_KEY: 'sk-main', LLM_FIRST_TOKEN_TIMEOUT_MS: '5000' });
    assert.equal(config.models.configured, true);
    assert.equal(config.llm.model, 'gpt-4o-mini');
    assert.equal(catalogModelTable(config.models)['gpt-4o-mini']?.contextWindow, 64000);
    assert.equal(config.llmFirstTokenTimeoutMs, 5000);
    assert.equal(config.useLocalLlm, false);
    assert.deepEqual(config.warnings, []);
  });

  it('refuses start with a ConfigError naming the key; warns about a skipped provider', () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    assert.throws(() => loadConfig({ LLM_CONFIG: bad }), (e: unknown) => e instanceof ConfigError && /^LLM_CONFIG file: not valid JSON/.test(e.message));
    assert.throws(() => loadConfig({ LLM_CONFIG: path.join(dir, 'missing.json') }), /LLM_CONFIG: cannot read .*missing\.json \(ENOENT\)/);
    const file = path.join(dir, 'good.json');
    const config = loadConfig({ LLM_CONFIG: file });
    assert.equal(config.warnings.length, 1);
  });
});

describe('a process given a bad LLM_CONFIG', () => {
  it('refuses to start, with one line that names the key', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'llm-config-start-'));
    try {
      const file = path.join(dir, 'llm.json');
      const bad = JSON.parse(JSON.stringify(GOOD)) as typeof GOOD;
      bad.models.cheap.route = ['backup/llama-3', 'bakup/llama-3'];
      writeFileSync(file, JSON.stringify(bad));
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
        cwd: ROOT,
        env: { ...process.env, LLM_CONFIG: file, MAIN_API_KEY: 'sk-main', WORKER_METRICS_PORT: '0', TEMPORAL_METRICS_PORT: '0' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(run.status, 1, run.stderr);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0]!, /LLM_CONFIG models\.cheap\.route\[1\]: provider \\"bakup\\" is not defined in providers/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
