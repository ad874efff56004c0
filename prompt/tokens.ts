/**
 * Exact token counting with tiktoken, in the encoding of the model in use.
 *
 * Encoders are WASM objects that are expensive to build (~100 ms) and never freed
 * here: one per encoding per process, built on first use.
 */
import { get_encoding, type Tiktoken, type TiktokenEncoding } from 'tiktoken';
import type { ModelInfo } from '../lib/config';
import type { ModelCatalog } from '../models/catalog';

export type { ModelInfo };

/**
 * Known model families, matched by longest prefix. Unknown models fall back to
 * `DEFAULT_MODEL_INFO`. Extra entries (or overrides) come from config.
 */
export const MODEL_TABLE: Readonly<Record<string, ModelInfo>> = Object.freeze({
  'gpt-4o': { encoding: 'o200k_base', contextWindow: 128_000 },
  'gpt-4.1': { encoding: 'o200k_base', contextWindow: 1_047_576 },
  'gpt-5': { encoding: 'o200k_base', contextWindow: 400_000 },
  o1: { encoding: 'o200k_base', contextWindow: 200_000 },
  o3: { encoding: 'o200k_base', contextWindow: 200_000 },
  'o4-mini': { encoding: 'o200k_base', contextWindow: 200_000 },
  'gpt-4-turbo': { encoding: 'cl100k_base', contextWindow: 128_000 },
  'gpt-4': { encoding: 'cl100k_base', contextWindow: 8_192 },
  'gpt-3.5-turbo': { encoding: 'cl100k_base', contextWindow: 16_385 },
});

export const DEFAULT_MODEL_INFO: ModelInfo = Object.freeze({
  encoding: 'o200k_base',
  contextWindow: 128_000,
});

/** Resolves a model name to its encoding and context window (longest prefix wins). */
export function modelInfo(
  model: string,
  extra: Readonly<Record<string, ModelInfo>> = {},
): ModelInfo {
  const table = { ...MODEL_TABLE, ...extra };
  let best: ModelInfo | undefined;
  let bestLen = -1;
  for (const [prefix, info] of Object.entries(table)) {
    if (model.startsWith(prefix) && prefix.length > bestLen) {
      best = info;
      bestLen = prefix.length;
    }
  }
  return best ?? DEFAULT_MODEL_INFO;
}

/**
 * The table entries of the models of `LLM_CONFIG` (looked up by their own names): the
 * context window and encoding each was given, else those of its primary's model family.
 */
export function catalogModelTable(
  catalog: ModelCatalog,
  extra: Readonly<Record<string, ModelInfo>> = {},
): Record<string, ModelInfo> {
  const table: Record<string, ModelInfo> = {};
  for (const [name, entry] of Object.entries(catalog.models)) {
    const family = modelInfo(entry.route[0]?.upstream ?? name, extra);
    table[name] = { encoding: entry.encoding ?? family.encoding, contextWindow: entry.contextWindow ?? family.contextWindow };
  }
  return table;
}

const encoders = new Map<TiktokenEncoding, Tiktoken>();

function encoder(encoding: TiktokenEncoding): Tiktoken {
  let enc = encoders.get(encoding);
  if (!enc) {
    enc = get_encoding(encoding);
    encoders.set(encoding, enc);
  }
  return enc;
}

/** Token count of plain text; special-token markers in user text count as text. */
export function countTextTokens(text: string, encoding: TiktokenEncoding): number {
  return encoder(encoding).encode_ordinary(text).length;
}

/** Splits text into tokens, each decoded back to its own string (for streaming). */
export function splitTokens(text: string, encoding: TiktokenEncoding): string[] {
  const enc = encoder(encoding);
  const decoder = new TextDecoder();
  const out: string[] = [];
  let pending: number[] = [];
  for (const t of enc.encode_ordinary(text)) {
    pending.push(t);
    // A token can end inside a multi-byte character: hold it until the bytes decode.
    const bytes = enc.decode(Uint32Array.from(pending));
    const s = decoder.decode(bytes, { stream: false });
    if (!s.includes('\uFFFD')) {
      out.push(s);
      pending = [];
    }
  }
  if (pending.length > 0) out.push(decoder.decode(enc.decode(Uint32Array.from(pending))));
  return out;
}

/** A chat message as far as token counting is concerned. */
export interface CountableMessage {
  role: string;
  content?: string | null;
  name?: string;
  tool_calls?: unknown;
  tool_call_id?: string;
}

/** Tokens the chat format adds around every message, and to prime the reply. */
export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;

/** Tokens one message costs inside a prompt, chat-format overhead included. */
export function countMessageTokens(msg: CountableMessage, encoding: TiktokenEncoding): number {
  let n = TOKENS_PER_MESSAGE + countTextTokens(msg.role, encoding);
  if (msg.content) n += countTextTokens(msg.content, encoding);
  if (msg.name) n += TOKENS_PER_NAME + countTextTokens(msg.name, encoding);
  if (msg.tool_calls) n += countTextTokens(JSON.stringify(msg.tool_calls), encoding);
  if (msg.tool_call_id) n += countTextTokens(msg.tool_call_id, encoding);
  return n;
}

/** Tokens of a whole prompt (the sum of its messages plus the reply priming). */
export function countPromptTokens(
  messages: readonly CountableMessage[],
  encoding: TiktokenEncoding,
): number {
  let n = REPLY_PRIMING_TOKENS;
  for (const m of messages) n += countMessageTokens(m, encoding);
  return n;
}
