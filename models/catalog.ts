/**
 * The models a deployment offers and the providers behind them (docs/API.md "Models and
 * providers"): what `model` on a request may name, the route of provider endpoints each
 * model is served by, and what a call costs. Pure data and functions, built once at boot
 * from `LLM_CONFIG` (models/llm-config.ts) or, without it, from `OPENAI_*`/the embedded
 * LLM as one implicit provider that serves any model name (the behaviour before routes).
 */
import type { TiktokenEncoding } from 'tiktoken';

/** Prices in US dollars per million tokens. */
export interface Price {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** An OpenAI-compatible endpoint. */
export interface Provider {
  name: string;
  baseUrl: string;
  /** Sent as the bearer token; `''` for endpoints that need none. Never logged. */
  apiKey: string;
}

/** One step of a route: a provider and the model name that provider knows. */
export interface RouteTarget {
  provider: Provider;
  /** The model name sent to the provider. */
  upstream: string;
  /** What a call answered by this target costs (the provider's own price, else the model's). */
  price?: Price;
}

/** A model clients may pick. */
export interface ModelEntry {
  name: string;
  /** Tried in order: the first is the primary, the others take over when it fails. */
  route: readonly RouteTarget[];
  /** Absent: the primary's model family's (prompt/tokens.ts `catalogModelTable`). */
  contextWindow?: number;
  encoding?: TiktokenEncoding;
  price?: Price;
}

export interface ModelCatalog {
  /** True when `LLM_CONFIG` defined the models; false: any model name goes to {@link implicit}. */
  configured: boolean;
  models: Readonly<Record<string, ModelEntry>>;
  /** The model of requests that name none. */
  defaultModel: string;
  /** Without `LLM_CONFIG`: the one provider every model name is sent to. */
  implicit?: Provider;
}

/** The provider name (metrics label) of the endpoint used without `LLM_CONFIG`. */
export const IMPLICIT_PROVIDER = 'default';

/** A catalog without `LLM_CONFIG`: every model name goes to `endpoint`, as before routes. */
export function implicitCatalog(endpoint: { baseUrl: string; apiKey: string; model: string }): ModelCatalog {
  return Object.freeze({
    configured: false,
    models: Object.freeze({}),
    defaultModel: endpoint.model,
    implicit: Object.freeze({ name: IMPLICIT_PROVIDER, baseUrl: endpoint.baseUrl, apiKey: endpoint.apiKey }),
  });
}

/**
 * The model a request runs on: the one it names, or the default when it names none;
 * undefined when it names a model the catalog does not offer. The one rule every door
 * (WebSocket, Chat Completions, Responses) applies; each answers `undefined` its own way.
 */
export function resolveModel(catalog: ModelCatalog, requested: string | undefined): string | undefined {
  if (requested === undefined || requested === '') return catalog.defaultModel;
  if (!catalog.configured) return requested;
  return Object.prototype.hasOwnProperty.call(catalog.models, requested) ? requested : undefined;
}

/** The ids `GET /v1/models` lists. */
export function listedModels(catalog: ModelCatalog, extra: readonly string[] = []): string[] {
  if (catalog.configured) return Object.keys(catalog.models);
  return [...new Set([catalog.defaultModel, ...extra])];
}

/**
 * The route of a model. A model the catalog does not know (a request started before the
 * configuration changed) goes to the default model's route under its own name when
 * there is no configuration, else to the default model's route.
 */
export function routeOf(catalog: ModelCatalog, model: string): readonly RouteTarget[] {
  if (!catalog.configured && catalog.implicit) return [{ provider: catalog.implicit, upstream: model }];
  const entry = catalog.models[model] ?? catalog.models[catalog.defaultModel];
  return entry?.route ?? [];
}

/** Cost in US dollars of a call's tokens at `price`, to the nano-dollar (none without a price). */
export function costUsd(price: Price | undefined, promptTokens: number, completionTokens: number): number | undefined {
  if (!price) return undefined;
  const usd = (promptTokens * price.inputPerMTok + completionTokens * price.outputPerMTok) / 1_000_000;
  return Math.round(usd * 1e9) / 1e9;
}
