/**
 * The LLM call: streams the reply through the `openai` client into the request's
 * event stream, heartbeating so a dead worker is noticed within seconds.
 *
 * Temporal owns retries (the client is built with `maxRetries: 0`). A retried attempt
 * first writes `restart` so the client discards the partial text it has, and writes
 * its deltas fenced with its (round, attempt) so an older attempt that is still alive
 * can no longer interleave.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import type OpenAI from 'openai';
import { APIConnectionError, APIError } from 'openai';
import type { LlmToolCall, PromptMessage, TokenUsage } from '../contracts/common';
import type { SamplingParams } from '../contracts/chat';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { lostTextRecovery } from '../store/event-log';
import { countPromptTokens, countTextTokens, modelInfo } from '../prompt/tokens';
import { toolDefinitions, type ToolDefinition } from '../tools/registry';
import type { RequestEvent } from '../contracts/protocol';
import { DeltaWriter } from './delta-writer';
import { streamChatCompletion } from './llm-stream';
import type { ActivityDeps } from './deps';

/** How often the activity heartbeats while it waits on the LLM. */
export const LLM_HEARTBEAT_INTERVAL_MS = 1000;
/** An attempt that receives nothing from the LLM for this long is abandoned (retried). */
export const LLM_IDLE_TIMEOUT_MS = 30_000;

export interface CallLlmInput {
  requestId: string;
  userId: string;
  model: string;
  messages: PromptMessage[];
  maxTokens: number;
  /** Names of registered tools to offer the model (tools/registry.ts); none when absent. */
  tools?: readonly string[];
  /** Offer the tools of every MCP server that is up too (with `tools`). */
  mcpTools?: boolean;
  /** Which LLM round of the request this is (0 first; one more after each tool round). */
  round?: number;
  /**
   * A client's own tools (OpenAI `tools` objects, OpenAI-compatible API), offered as
   * given instead of registered ones; their calls are returned, never run.
   */
  clientTools?: unknown[];
  /** OpenAI `tool_choice`, sent with `clientTools`. */
  toolChoice?: unknown;
  /** A client's sampling parameters (OpenAI-compatible API); `maxTokens` is ignored here. */
  sampling?: SamplingParams;
}

type CompletionParams = Parameters<OpenAI['chat']['completions']['create']>[0];

/** The request fields a client's tools and sampling parameters add (absent ones omitted). */
function clientParams(input: CallLlmInput): Partial<CompletionParams> {
  const out: Record<string, unknown> = {};
  if (input.clientTools?.length) {
    out.tools = input.clientTools;
    if (input.toolChoice !== undefined) out.tool_choice = input.toolChoice;
  }
  const s = input.sampling;
  if (s?.temperature !== undefined) out.temperature = s.temperature;
  if (s?.topP !== undefined) out.top_p = s.topP;
  if (s?.stop?.length) out.stop = s.stop;
  return out;
}

/** Fences of one round stay below the next round's: attempts per call are far fewer. */
const FENCE_ROUND_STRIDE = 1000;

export interface CallLlmOutput {
  content: string;
  toolCalls: LlmToolCall[];
  finishReason: string | null;
  usage: TokenUsage;
}

/** HTTP statuses from the LLM that a retry can fix. */
function isRetryableStatus(status: number | undefined): boolean {
  return (
    status === undefined || status === 408 || status === 409 || status === 429 || status >= 500
  );
}

/** Creates the LLM activity over its dependencies. */
export function createLlmActivities(deps: ActivityDeps) {
  /** The built-in tools named, then (with `mcp`) the MCP catalog's live tools. */
  async function offeredTools(names: readonly string[], mcp: boolean): Promise<ToolDefinition[]> {
    const builtin = toolDefinitions(names);
    if (!mcp) return builtin;
    const live = await deps.mcpCatalog.liveTools();
    return [
      ...builtin,
      ...live.map((t) => ({
        type: 'function' as const,
        function: { name: t.name, description: t.description, parameters: t.inputSchema },
      })),
    ];
  }

  async function callLlm(input: CallLlmInput): Promise<CallLlmOutput> {
    const ctx = Context.current();
    const fence = (input.round ?? 0) * FENCE_ROUND_STRIDE + ctx.info.attempt;
    const emit = (event: RequestEvent) =>
      deps.events.append(input.userId, input.requestId, event, { fence });
    if (ctx.info.attempt > 1) await emit({ type: 'restart', reason: 'llm_retry' });
    await emit({ type: 'status', state: 'calling_llm' });

    const abort = new AbortController();
    const onCancel = () => abort.abort();
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    const heartbeat = setInterval(() => ctx.heartbeat(), LLM_HEARTBEAT_INTERVAL_MS);
    let idle: NodeJS.Timeout | undefined;
    let idleFired = false;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        idleFired = true;
        abort.abort();
      }, LLM_IDLE_TIMEOUT_MS);
    };

    let content = '';
    const toolCalls: LlmToolCall[] = [];
    let finishReason: string | null = null;
    let providerUsage: { prompt_tokens: number; completion_tokens: number } | undefined;
    const deltas = new DeltaWriter({
      write: (piece) =>
        deps.events.write(
          input.userId,
          input.requestId,
          { type: 'delta', content: piece },
          { fence },
        ),
      // Start the client's text over with everything so far.
      onLost: async (text) => {
        for (const event of lostTextRecovery(text)) await emit(event);
      },
      onStop: () => abort.abort(),
      settings: deps.deltaFlush,
    });
    const tools = input.tools?.length ? await offeredTools(input.tools, input.mcpTools === true) : [];
    try {
      touch();
      const params = {
        model: input.model,
        messages: input.messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: input.maxTokens,
        ...(tools.length ? { tools } : {}),
        ...clientParams(input),
      };
      const stream = streamChatCompletion(
        deps.llm.baseURL,
        deps.llm.apiKey ?? '',
        params,
        abort.signal,
      );
      for await (const chunk of stream) {
        touch();
        if (chunk.usage) providerUsage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.finish_reason) finishReason = choice.finish_reason;
        const piece = choice.delta?.content;
        if (piece) {
          content += piece;
          deltas.push(piece);
        }
        for (const tc of choice.delta?.tool_calls ?? []) {
          const slot = (toolCalls[tc.index] ??= {
            id: '',
            type: 'function',
            function: { name: '', arguments: '' },
          });
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.function.name += tc.function.name;
          if (tc.function?.arguments) slot.function.arguments += tc.function.arguments;
        }
      }
      await deltas.drain();
      if (deltas.superseded) throw new CancelledFailure('superseded');
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
      // The request ended (cancelled) or a newer attempt took over.
      if (deltas.superseded) throw new CancelledFailure('superseded');
      if (err instanceof CancelledFailure) throw err;
      throw toFailure(err, idleFired);
    } finally {
      deltas.close();
      clearInterval(heartbeat);
      clearTimeout(idle);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }

    const usage = providerUsage
      ? {
          promptTokens: providerUsage.prompt_tokens,
          completionTokens: providerUsage.completion_tokens,
          totalTokens: providerUsage.prompt_tokens + providerUsage.completion_tokens,
          estimated: false,
        }
      : estimateUsage(input, content, toolCalls, deps);
    return { content, toolCalls, finishReason, usage };
  }

  return { callLlm };
}

/** Counts usage locally with tiktoken when the provider sent none. */
function estimateUsage(
  input: CallLlmInput,
  content: string,
  toolCalls: LlmToolCall[],
  deps: ActivityDeps,
): TokenUsage {
  const { encoding } = modelInfo(input.model, deps.models);
  const promptTokens = countPromptTokens(input.messages, encoding);
  const completionTokens =
    countTextTokens(content, encoding) +
    (toolCalls.length ? countTextTokens(JSON.stringify(toolCalls), encoding) : 0);
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    estimated: true,
  };
}

/** Maps an LLM client error to a Temporal failure: retryable or not, by its kind. */
export function toFailure(err: unknown, idle: boolean): ApplicationFailure {
  if (idle) {
    return failure(FAILURE_TYPES.LlmTransient, 'LLM stream stalled');
  }
  if (err instanceof APIError && !(err instanceof APIConnectionError)) {
    const status: number | undefined = (err as { status?: number }).status;
    if (status === 400 && err.code === 'context_length_exceeded') {
      return failure(FAILURE_TYPES.ContextTooLarge, err.message, { nonRetryable: true });
    }
    if (!isRetryableStatus(status)) {
      return failure(FAILURE_TYPES.LlmUnavailable, `LLM answered ${status ?? 'an error'}`, {
        nonRetryable: true,
      });
    }
    return failure(FAILURE_TYPES.LlmTransient, `LLM answered ${status ?? 'an error'}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return failure(FAILURE_TYPES.LlmTransient, `LLM call failed: ${message}`);
}
