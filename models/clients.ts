/**
 * `openai` clients for non-streamed calls to a model's primary provider (the
 * `summarize_document` tool's), one per provider per process. Temporal owns retries:
 * the clients never retry. Streamed chat calls do not use them (activities/llm-stream.ts).
 */
import OpenAI from 'openai';
import { routeOf, type ModelCatalog, type RouteTarget } from './catalog';

const clients = new Map<string, OpenAI>();

/** The primary of `model`'s route and a client for it; undefined when the model has none. */
export function primaryClient(catalog: ModelCatalog, model: string): { target: RouteTarget; client: OpenAI } | undefined {
  const target = routeOf(catalog, model)[0];
  if (!target) return undefined;
  const { baseUrl, apiKey } = target.provider;
  const key = `${baseUrl}\n${apiKey}`;
  let client = clients.get(key);
  if (!client) {
    // The client refuses to be built without a key; a provider may need none.
    client = new OpenAI({ baseURL: baseUrl, apiKey: apiKey || 'none', maxRetries: 0, timeout: 120_000 });
    clients.set(key, client);
  }
  return { target, client };
}
