/**
 * Validation of an OpenAI chat-completions request body into the few fields the
 * local LLM uses. Unknown fields are ignored, as OpenAI's server mostly does.
 */
import type { CountableMessage } from '../prompt/tokens';

/** A request message, normalised: array content parts are joined into one string. */
export interface ChatMessage extends CountableMessage {
  content: string | null;
}

/** The parts of a chat-completions request the local LLM acts on. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream: boolean;
  includeUsage: boolean;
  /** `max_completion_tokens` or `max_tokens`; null when absent. */
  maxTokens: number | null;
  /** True when the request offered tools. */
  hasTools: boolean;
}

/** Either the request, or what is wrong with it (an OpenAI-style 400). */
export type ParseResult =
  { ok: true; request: ChatRequest } | { ok: false; message: string; param: string | null };

/** The model used when a request names none. */
export const DEFAULT_MODEL = 'gpt-4o-mini';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text of a message's `content`: a string, null, or an array of `{type:"text", text}` parts. */
function contentText(content: unknown): string | null | undefined {
  if (content === undefined || content === null) return null;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') parts.push(part);
    else if (isRecord(part) && typeof part.text === 'string') parts.push(part.text);
    else if (!isRecord(part)) return undefined;
  }
  return parts.join('\n');
}

function parseMessage(raw: unknown, i: number): ChatMessage | string {
  if (!isRecord(raw)) return `messages[${i}] must be an object`;
  if (typeof raw.role !== 'string' || raw.role === '')
    return `messages[${i}].role must be a string`;
  const content = contentText(raw.content);
  if (content === undefined)
    return `messages[${i}].content must be a string or an array of text parts`;
  const msg: ChatMessage = { role: raw.role, content };
  if (typeof raw.name === 'string') msg.name = raw.name;
  if (raw.tool_calls !== undefined && raw.tool_calls !== null) msg.tool_calls = raw.tool_calls;
  if (typeof raw.tool_call_id === 'string') msg.tool_call_id = raw.tool_call_id;
  return msg;
}

function parseMaxTokens(body: Record<string, unknown>): number | null | string {
  for (const key of ['max_completion_tokens', 'max_tokens']) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      return `${key} must be a positive integer`;
    }
    return v;
  }
  return null;
}

/** Validates a parsed JSON body as a chat-completions request. */
export function parseChatRequest(body: unknown): ParseResult {
  if (!isRecord(body))
    return { ok: false, message: 'Request body must be a JSON object', param: null };
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return { ok: false, message: "'messages' must be a non-empty array", param: 'messages' };
  }
  const messages: ChatMessage[] = [];
  for (const [i, raw] of body.messages.entries()) {
    const msg = parseMessage(raw, i);
    if (typeof msg === 'string') return { ok: false, message: msg, param: `messages[${i}]` };
    messages.push(msg);
  }
  if (body.model !== undefined && typeof body.model !== 'string') {
    return { ok: false, message: "'model' must be a string", param: 'model' };
  }
  const maxTokens = parseMaxTokens(body);
  if (typeof maxTokens === 'string') return { ok: false, message: maxTokens, param: 'max_tokens' };
  const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
  return {
    ok: true,
    request: {
      model: typeof body.model === 'string' && body.model !== '' ? body.model : DEFAULT_MODEL,
      messages,
      stream: body.stream === true,
      includeUsage: body.stream === true && streamOptions.include_usage === true,
      maxTokens,
      hasTools: Array.isArray(body.tools) && body.tools.length > 0,
    },
  };
}

/** Index of the last user message, or -1. */
export function lastUserIndex(messages: readonly ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') return i;
  }
  return -1;
}
