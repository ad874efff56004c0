/**
 * The body of `POST /v1/responses` (docs/API.md "Responses API"), parsed into what the
 * chat workflow takes: the new turn as chat messages, the client's function tools and
 * the sampling parameters. The fields the contract lists are validated as OpenAI does;
 * other fields are ignored. Text that could not be stored as sent is refused at the
 * door, as on every door (docs/API.md "Validation").
 *
 * `input` items map to chat messages: a message (`role` user, system, developer or
 * assistant; `content` a string or text parts), `function_call_output` (the client's
 * result of a tool call: a `tool` message) and `function_call` (an earlier call, when
 * the client sends the conversation itself). `instructions` join the system prompt of
 * this response only, as OpenAI's do.
 */
import { z } from 'zod';
import type { CompletionRequest } from '../../contracts/chat';
import type { LlmToolCall, PromptMessage } from '../../contracts/common';
import { ERRORS } from '../../contracts/errors';
import { AppError } from '../errors';
import { storable } from '../frames';

const text = storable(z.string());
const textPart = z.object({
  type: z.enum(['input_text', 'output_text'], {
    message: 'only input_text and output_text parts are supported',
  }),
  text,
});
const content = z.union([text, z.array(textPart).min(1, 'must hold at least one part')], {
  message: 'must be a string or a list of input_text parts',
});

const messageItem = z.object({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content,
});
const callOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: storable(z.string().min(1)),
  output: text,
});
const callItem = z.object({
  type: z.literal('function_call'),
  call_id: storable(z.string().min(1)),
  name: z.string().min(1),
  arguments: text,
});
type Item = z.infer<typeof messageItem> | z.infer<typeof callOutputItem> | z.infer<typeof callItem>;

/** The schema of an input item, by its `type` (a message when absent). */
function itemSchema(raw: unknown) {
  const type =
    typeof raw === 'object' && raw !== null ? (raw as { type?: unknown }).type : undefined;
  if (type === 'function_call_output') return callOutputItem;
  if (type === 'function_call') return callItem;
  return messageItem;
}

/** Most input items one request may carry (the body size limit usually binds first). */
const MAX_ITEMS = 2048;

const tool = z
  .object({
    type: z.literal('function', { message: 'only function tools are supported' }),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .passthrough();

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), name: z.string().min(1) }),
]);

/** OpenAI's limits on `metadata`: 16 pairs, keys up to 64 characters, values up to 512. */
const metadata = z
  .record(z.string().max(64), storable(z.string().max(512)))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 keys');

const body = z.object({
  model: storable(z.string().min(1).max(200)).optional(),
  input: z.union([text, z.array(z.unknown())], { message: 'must be a string or a list of items' }),
  instructions: text.nullish(),
  previous_response_id: z.string().min(1).nullish(),
  background: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  tools: z.array(tool).max(128).nullish(),
  tool_choice: toolChoice.nullish(),
  metadata: metadata.nullish(),
});

/** A parsed `POST /v1/responses`. */
export interface ParsedResponseRequest {
  model?: string;
  background: boolean;
  stream: boolean;
  store: boolean;
  previousResponseId?: string;
  metadata: Record<string, string>;
  /** What the workflow takes (`stateless` is `!store`). */
  completion: CompletionRequest;
  /** The text of the last user message (the request's `content`: a new session's title). */
  lastUserText: string;
}

const textOf = (c: z.infer<typeof content>): string =>
  typeof c === 'string' ? c : c.map((p) => p.text).join('');

/** The input as chat messages; consecutive `function_call` items make one assistant message. */
function toMessages(input: string | Item[]): PromptMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const out: PromptMessage[] = [];
  for (const it of input) {
    if (it.type === 'function_call') {
      const call: LlmToolCall = {
        id: it.call_id,
        type: 'function',
        function: { name: it.name, arguments: it.arguments },
      };
      const last = out.at(-1);
      if (last?.role === 'assistant' && last.tool_calls) last.tool_calls.push(call);
      else out.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (it.type === 'function_call_output') {
      out.push({ role: 'tool', content: it.output, tool_call_id: it.call_id });
    } else {
      out.push({ role: it.role === 'developer' ? 'system' : it.role, content: textOf(it.content) });
    }
  }
  return out;
}

function badRequest(message: string, param?: string): AppError {
  return new AppError(
    ERRORS.BadRequest,
    `${param ? `${param}: ` : ''}${message}`,
    undefined,
    param,
  );
}

/** Parses `input` items one by one, so an error names the item and field at fault. */
function parseItems(items: unknown[]): Item[] {
  if (items.length > MAX_ITEMS) throw badRequest(`at most ${MAX_ITEMS} items`, 'input');
  return items.map((raw, i) => {
    const parsed = itemSchema(raw).safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw badRequest(
      issue?.message ?? 'invalid item',
      ['input', i, ...(issue?.path ?? [])].map(String).join('.'),
    );
  });
}

/** Parses the body; throws a 400 `bad_request` naming the field at fault (`param`). */
export function parseResponseRequest(raw: unknown): ParsedResponseRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badRequest('the body must be a JSON object');
  }
  const parsed = body.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.length ? issue.path.map(String).join('.') : undefined;
    throw badRequest(issue?.message ?? 'invalid request', param);
  }
  const b = parsed.data;
  const input = typeof b.input === 'string' ? b.input : parseItems(b.input);
  if (input.length === 0)
    throw badRequest(
      typeof input === 'string' ? 'must not be empty' : 'must hold at least one item',
      'input',
    );
  const store = b.store !== false;
  const background = b.background === true;
  if (background && !store)
    throw badRequest(
      'a background response must be stored (store:false with background:true)',
      'store',
    );
  if (!store && b.previous_response_id) {
    throw badRequest('store:false cannot continue a stored conversation', 'previous_response_id');
  }
  const turn = toMessages(input);
  if (!turn.some((m) => m.role !== 'system'))
    throw badRequest('needs at least one non-system item', 'input');
  const messages: PromptMessage[] = b.instructions
    ? [{ role: 'system', content: b.instructions }, ...turn]
    : turn;
  const tools = b.tools?.map(({ type, name, description, parameters, strict }) => ({
    type,
    function: {
      name,
      ...(description ? { description } : {}),
      ...(parameters ? { parameters } : {}),
      ...(strict !== undefined && strict !== null ? { strict } : {}),
    },
  }));
  const choice = b.tool_choice;
  const toolChoice =
    typeof choice === 'object' && choice
      ? { type: 'function', function: { name: choice.name } }
      : choice;
  const lastUser = [...turn].reverse().find((m) => m.role === 'user');
  return {
    ...(b.model ? { model: b.model } : {}),
    background,
    stream: b.stream === true,
    store,
    ...(b.previous_response_id ? { previousResponseId: b.previous_response_id } : {}),
    metadata: b.metadata ?? {},
    completion: {
      messages,
      stateless: !store,
      ...(tools?.length ? { tools } : {}),
      ...(tools?.length && toolChoice ? { toolChoice } : {}),
      sampling: {
        ...(b.max_output_tokens ? { maxTokens: b.max_output_tokens } : {}),
        ...(b.temperature !== undefined && b.temperature !== null
          ? { temperature: b.temperature }
          : {}),
        ...(b.top_p !== undefined && b.top_p !== null ? { topP: b.top_p } : {}),
      },
    },
    lastUserText: lastUser?.content ?? '',
  };
}
