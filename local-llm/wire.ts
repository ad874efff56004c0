/**
 * OpenAI wire format: `chat.completion` bodies, `chat.completion.chunk` SSE events
 * and error bodies, shaped so the official `openai` client parses them.
 */
import type { PlannedReply } from './replies';

/** Token usage as OpenAI reports it. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Identity shared by every chunk of one completion. */
export interface CompletionMeta {
  id: string;
  created: number;
  model: string;
}

/** Builds a usage object. */
export function usage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** The non-streaming `chat.completion` body of a planned reply. */
export function completionBody(meta: CompletionMeta, reply: PlannedReply, u: Usage): object {
  const message =
    reply.kind === 'text'
      ? { role: 'assistant', content: reply.text, refusal: null }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: reply.calls.map((c) => ({
            id: c.id,
            type: 'function',
            function: { name: c.name, arguments: c.arguments },
          })),
        };
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: reply.kind === 'text' ? reply.finishReason : 'tool_calls',
      },
    ],
    usage: u,
    system_fingerprint: null,
  };
}

/** One `chat.completion.chunk` with a single choice (`usage: null` when usage is asked for). */
export function chunk(
  meta: CompletionMeta,
  delta: object,
  finishReason: string | null,
  includeUsage: boolean,
): object {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  };
}

/** The final usage chunk of a stream: no choices, just usage. */
export function usageChunk(meta: CompletionMeta, u: Usage): object {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    system_fingerprint: null,
    choices: [],
    usage: u,
  };
}

/** One SSE event carrying JSON (or the literal `[DONE]`). */
export function sseEvent(data: object | '[DONE]'): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** An OpenAI-style error body `{error:{message, type, param, code}}` for an HTTP status. */
export function errorBody(status: number, message: string, param: string | null = null): object {
  let type = 'invalid_request_error';
  let code: string = 'invalid_request';
  if (status === 404) code = 'not_found';
  else if (status === 405) code = 'method_not_allowed';
  else if (status === 413) code = 'payload_too_large';
  else if (status === 429) {
    type = 'requests';
    code = 'rate_limit_exceeded';
  } else if (status >= 500) {
    type = 'server_error';
    code = 'server_error';
  }
  return { error: { message, type, param, code } };
}
