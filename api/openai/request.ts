/**
 * The body of `POST /v1/chat/completions` (docs/API.md "OpenAI-compatible API"), parsed
 * into what the chat workflow takes. The fields the contract lists are validated as
 * OpenAI does; other fields are ignored. Message content given as parts keeps its text
 * parts (other kinds, e.g. images, are refused: the models here read text).
 */
import { z } from 'zod';
import type { CompletionRequest } from '../../contracts/chat';
import type { PromptMessage } from '../../contracts/common';
import { ERRORS } from '../../contracts/errors';
import { AppError } from '../errors';
import { storable } from '../frames';

// Text that may be stored (X-Session-Id) or sent on is refused at the door when it cannot
// be stored as sent, as on the WebSocket (docs/API.md "Validation").
const textParts = z.array(
  z.object({
    type: z.literal('text', { message: 'only text content parts are supported' }),
    text: storable(z.string()),
  }),
);
const content = z.union([storable(z.string()), textParts]);

const toolCall = z.object({
  id: storable(z.string().min(1)),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: storable(z.string()) }),
});

const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content }),
  z.object({ role: z.literal('developer'), content }),
  z.object({ role: z.literal('user'), content }),
  z.object({
    role: z.literal('assistant'),
    content: content.nullish(),
    tool_calls: z.array(toolCall).optional(),
  }),
  z.object({ role: z.literal('tool'), content, tool_call_id: storable(z.string().min(1)) }),
]);

const tool = z.object({
  type: z.literal('function'),
  function: z
    .object({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    })
    .passthrough(),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

/** Most messages one request may carry (the body size limit usually binds first). */
const MAX_MESSAGES = 2048;

const body = z.object({
  model: storable(z.string().min(1).max(200)).optional(),
  messages: z.array(message).min(1, 'must hold at least one message').max(MAX_MESSAGES),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  tools: z.array(tool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  user: z.string().nullish(),
});

/** A parsed completion request. */
export interface ParsedCompletion {
  model?: string;
  stream: boolean;
  includeUsage: boolean;
  /** What the workflow takes (`stateless` is decided by the caller, from `X-Session-Id`). */
  completion: Omit<CompletionRequest, 'stateless'>;
  /** The text of the last user message (the request's `content`, as on the WebSocket). */
  lastUserText: string;
}

const textOf = (c: z.infer<typeof content> | null | undefined): string | null =>
  c === undefined || c === null ? null : typeof c === 'string' ? c : c.map((p) => p.text).join('');

function toPrompt(m: z.infer<typeof message>): PromptMessage {
  switch (m.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textOf(m.content) };
    case 'user':
      return { role: 'user', content: textOf(m.content) };
    case 'assistant': {
      const out: PromptMessage = { role: 'assistant', content: textOf(m.content) };
      if (m.tool_calls?.length) out.tool_calls = m.tool_calls;
      return out;
    }
    case 'tool':
      return { role: 'tool', content: textOf(m.content), tool_call_id: m.tool_call_id };
  }
}

/** Parses the body; throws a 400 `bad_request` naming the field at fault (`param`). */
export function parseCompletionRequest(raw: unknown): ParsedCompletion {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AppError(ERRORS.BadRequest, 'the body must be a JSON object');
  }
  const parsed = body.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.length ? issue.path.map(String).join('.') : undefined;
    throw new AppError(
      ERRORS.BadRequest,
      `${param ? `${param}: ` : ''}${issue?.message ?? 'invalid request'}`,
      undefined,
      param,
    );
  }
  const b = parsed.data;
  const messages = b.messages.map(toPrompt);
  if (!messages.some((m) => m.role !== 'system')) {
    throw new AppError(
      ERRORS.BadRequest,
      'messages: needs at least one non-system message',
      undefined,
      'messages',
    );
  }
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined;
  const stop = typeof b.stop === 'string' ? [b.stop] : (b.stop ?? undefined);
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  return {
    ...(b.model ? { model: b.model } : {}),
    stream: b.stream === true,
    includeUsage: b.stream_options?.include_usage === true,
    completion: {
      messages,
      ...(b.tools?.length ? { tools: b.tools } : {}),
      ...(b.tools?.length && b.tool_choice ? { toolChoice: b.tool_choice } : {}),
      sampling: {
        ...(maxTokens !== undefined ? { maxTokens } : {}),
        ...(b.temperature !== undefined && b.temperature !== null
          ? { temperature: b.temperature }
          : {}),
        ...(b.top_p !== undefined && b.top_p !== null ? { topP: b.top_p } : {}),
        ...(stop?.length ? { stop } : {}),
      },
    },
    lastUserText: lastUser?.content ?? '',
  };
}
