/**
 * `LLM_CONFIG`: the JSON file of providers and models (docs/API.md "Models and
 * providers"), read once at boot by lib/config.ts. A file that does not parse, a route
 * that is empty or names a provider that is not defined, a negative price: start is
 * refused with one line naming the key at fault. A provider whose `apiKeyEnv` is unset is
 * skipped with a warning (its route steps dropped), so one missing secret does not take
 * every model down.
 */
import { readFileSync } from 'node:fs';
import type { TiktokenEncoding } from 'tiktoken';
import type { ModelCatalog, ModelEntry, Price, Provider, RouteTarget } from './catalog';

/** A bad `LLM_CONFIG`; lib/config.ts turns it into its ConfigError. */
export class LlmConfigError extends Error {
  override name = 'LlmConfigError';
}

export interface LoadedLlmConfig {
  catalog: ModelCatalog;
  /** What was skipped, one line each (logged by the processes at start). */
  warnings: string[];
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const MODEL_RE = /^[\w.:/-]{1,100}$/;
const ENCODINGS: ReadonlySet<string> = new Set(['o200k_base', 'cl100k_base', 'p50k_base', 'r50k_base']);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(key: string, problem: string): never {
  throw new LlmConfigError(`LLM_CONFIG ${key}: ${problem}`);
}

function priceAt(raw: unknown, key: string): Price | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) fail(key, 'must be {"inputPerMTok": n, "outputPerMTok": n}');
  const out: Record<string, number> = {};
  for (const field of ['inputPerMTok', 'outputPerMTok'] as const) {
    const v = raw[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${key}.${field}`, 'must be a number >= 0 (US dollars per million tokens)');
    out[field] = v;
  }
  return Object.freeze(out as unknown as Price);
}

interface ParsedProvider extends Provider {
  prices: Readonly<Record<string, Price>>;
}

function parseProviders(raw: unknown, env: Record<string, string | undefined>, warnings: string[]) {
  if (!isObject(raw) || Object.keys(raw).length === 0) fail('providers', 'must be an object with at least one provider');
  const providers = new Map<string, ParsedProvider>();
  const skipped = new Set<string>();
  for (const [name, p] of Object.entries(raw)) {
    const key = `providers.${name}`;
    if (!NAME_RE.test(name)) fail(key, 'a provider name is 1-64 letters, digits, _ . -');
    if (!isObject(p)) fail(key, 'must be an object {baseUrl, apiKeyEnv?}');
    if (typeof p.baseUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(p.baseUrl)) fail(`${key}.baseUrl`, 'must be an http(s) URL');
    let apiKey = '';
    if (p.apiKeyEnv !== undefined) {
      if (typeof p.apiKeyEnv !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.apiKeyEnv)) fail(`${key}.apiKeyEnv`, 'must name an environment variable');
      apiKey = env[p.apiKeyEnv] ?? '';
      if (apiKey === '') {
        warnings.push(`LLM_CONFIG ${key}: ${p.apiKeyEnv} is not set; provider skipped`);
        skipped.add(name);
      }
    }
    const prices: Record<string, Price> = {};
    if (p.prices !== undefined) {
      if (!isObject(p.prices)) fail(`${key}.prices`, 'must map model names to prices');
      for (const [m, price] of Object.entries(p.prices)) prices[m] = priceAt(price, `${key}.prices.${m}`)!;
    }
    if (!skipped.has(name)) providers.set(name, { name, baseUrl: p.baseUrl.replace(/\/+$/, ''), apiKey, prices: Object.freeze(prices) });
  }
  return { providers, skipped };
}

/** Parses the text of an `LLM_CONFIG` file; `env` holds the providers' `apiKeyEnv` variables. */
export function parseLlmConfig(text: string, env: Record<string, string | undefined>): LoadedLlmConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    fail('file', `not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw)) fail('file', 'must hold a JSON object {providers, models, defaultModel}');
  const warnings: string[] = [];
  const { providers, skipped } = parseProviders(raw.providers, env, warnings);
  if (!isObject(raw.models) || Object.keys(raw.models).length === 0) fail('models', 'must be an object with at least one model');

  const models: Record<string, ModelEntry> = {};
  for (const [name, m] of Object.entries(raw.models)) {
    const key = `models.${name}`;
    if (!MODEL_RE.test(name)) fail(key, 'a model name is 1-100 letters, digits, _ . : / -');
    if (!isObject(m)) fail(key, 'must be an object {route, contextWindow?, price?}');
    if (!Array.isArray(m.route) || m.route.length === 0) fail(`${key}.route`, 'must list at least one "provider/model"');
    const price = priceAt(m.price, `${key}.price`);
    const route: RouteTarget[] = [];
    m.route.forEach((step: unknown, i) => {
      const at = `${key}.route[${i}]`;
      const slash = typeof step === 'string' ? step.indexOf('/') : -1;
      if (typeof step !== 'string' || slash <= 0 || slash === step.length - 1) fail(at, 'must be "provider/model"');
      const providerName = step.slice(0, slash);
      const upstream = step.slice(slash + 1);
      if (skipped.has(providerName)) return;
      const provider = providers.get(providerName);
      if (!provider) fail(at, `provider "${providerName}" is not defined in providers`);
      const target: RouteTarget = {
        provider: Object.freeze({ name: provider.name, baseUrl: provider.baseUrl, apiKey: provider.apiKey }),
        upstream,
      };
      const stepPrice = provider.prices[upstream] ?? price;
      if (stepPrice) target.price = stepPrice;
      route.push(Object.freeze(target));
    });
    if (route.length === 0) {
      warnings.push(`LLM_CONFIG ${key}: every provider of its route is skipped; model not offered`);
      continue;
    }
    models[name] = Object.freeze({ name, route: Object.freeze(route), ...tokenSettings(m, key), ...(price ? { price } : {}) });
  }

  const names = Object.keys(raw.models);
  const defaultModel = raw.defaultModel ?? names[0];
  if (typeof defaultModel !== 'string' || !names.includes(defaultModel)) fail('defaultModel', 'must name one of models');
  if (!models[defaultModel]) fail('defaultModel', `"${defaultModel}" has no provider left (see the warnings above)`);
  return {
    catalog: Object.freeze({ configured: true, models: Object.freeze(models), defaultModel }),
    warnings,
  };
}

/**
 * The model's context window and encoding when configured; absent ones come from the
 * primary's model family where tokens are counted (prompt/tokens.ts `catalogModelTable`).
 */
function tokenSettings(m: Json, key: string): Pick<ModelEntry, 'contextWindow' | 'encoding'> {
  const cw = m.contextWindow;
  if (cw !== undefined && (typeof cw !== 'number' || !Number.isInteger(cw) || cw < 16)) fail(`${key}.contextWindow`, 'must be a whole number >= 16');
  const enc = m.encoding;
  if (enc !== undefined && (typeof enc !== 'string' || !ENCODINGS.has(enc))) fail(`${key}.encoding`, `must be one of ${[...ENCODINGS].join(', ')}`);
  return {
    ...(cw !== undefined ? { contextWindow: cw } : {}),
    ...(enc !== undefined ? { encoding: enc as TiktokenEncoding } : {}),
  };
}

/** Reads and parses the file at `path`. */
export function loadLlmConfig(path: string, env: Record<string, string | undefined>): LoadedLlmConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new LlmConfigError(`LLM_CONFIG: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseLlmConfig(text, env);
}
