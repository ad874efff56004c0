/**
 * The LLM call: streams the reply through the request's event stream, heartbeating so a
 * dead worker is noticed within seconds.
 *
 * One attempt walks the model's route (activities/llm-route.ts): a provider that fails
 * (connection, 429, 5xx, a dropped stream, no first token within
 * `LLM_FIRST_TOKEN_TIMEOUT_MS`) hands over to the next at once. When it failed after some
 * of its text was written, `restart` is written first, so the client discards it; the
 * OpenAI door's renderer then continues seamlessly or ends the stream rather than mix
 * two providers' text (api/openai/render.ts). After the last provider the attempt fails
 * and Temporal retries it with backoff (the client is built with `maxRetries: 0`); a
 * retried attempt first writes `restart` too, and writes its deltas fenced with its
 * (round, attempt) so an older attempt that is still alive can no longer interleave.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure, type ApplicationFailure } from '@temporalio/common';
import type OpenAI from 'openai';
import { APIConnectionError, APIError } from 'openai';
import type { LlmToolCall, PromptMessage, TokenUsage } from '../contracts/common';
import type { SamplingParams } from '../contracts/chat';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { DEFAULT_LLM_BREAKER } from '../lib/config';
import { llmFirstTokenSeconds } from '../lib/metrics';
import { costUsd, implicitCatalog, type RouteTarget } from '../models/catalog';
import { lostTextRecovery } from '../store/event-log';
import { countPromptTokens, countTextTokens, modelInfo } from '../prompt/tokens';
import { toolDefinitions, type ToolDefinition } from '../tools/registry';
import type { RequestEvent } from '../contracts/protocol';
import { DeltaWriter } from './delta-writer';
import { streamChatCompletion } from './llm-stream';
import { RoutePlanner, type TargetOutcome } from './llm-route';
import type { ActivityDeps } from './deps';

/** How often the activity heartbeats while it waits on the LLM. */
export const LLM_HEARTBEAT_INTERVAL_MS = 1000;
/** An attempt that receives nothing from the LLM for this long after its first token is abandoned. */
export const LLM_IDLE_TIMEOUT_MS = 30_000;
/** The default of `LLM_FIRST_TOKEN_TIMEOUT_MS`. */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 30_000;

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

/** The `restart` reason when another provider takes over a reply. */
export const FAILOVER_REASON = 'llm_failover';

export interface CallLlmOutput {
  content: string;
  toolCalls: LlmToolCall[];
  finishReason: string | null;
  usage: TokenUsage;
}

/** HTTP statuses from the LLM that a retry can fix. */
function isRetryableStatus(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 409 || status === 429 || status >= 500;
}

/** What one provider of the route did: its reply, or why it failed and what the client saw. */
type TargetResult =
  | { ok: true; output: CallLlmOutput }
  | { ok: false; failure: ApplicationFailure; outcome: TargetOutcome; wrote: boolean };

/** Creates the LLM activity over its dependencies. */
export function createLlmActivities(deps: ActivityDeps) {
  const catalog =
    deps.catalog ?? implicitCatalog({ baseUrl: deps.llm.baseURL, apiKey: deps.llm.apiKey ?? '', model: '' });
  const planner = new RoutePlanner(catalog, () => deps.redis, deps.llmBreaker ?? DEFAULT_LLM_BREAKER, deps.logger);
  const firstTokenTimeoutMs = deps.llmFirstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;

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
    const heartbeat = setInterval(() => ctx.heartbeat(), LLM_HEARTBEAT_INTERVAL_MS);
    try {
      const plan = await planner.plan(input.model);
      const routeLength = plan.targets.length + plan.skipped.length;
      let wrote = false;
      let last: ApplicationFailure | undefined;
      for (const target of plan.targets) {
        // The client holds text of a provider that failed: it starts over.
        if (wrote) await emit({ type: 'restart', reason: FAILOVER_REASON });
        const started = performance.now();
        const result = await streamFrom(target, input, fence, emit, () =>
          llmFirstTokenSeconds.observe(
            { provider: target.provider.name, model: planner.label(input.model) },
            (performance.now() - started) / 1000,
          ),
        );
        await planner.ended(target, input.model, result.ok ? 'ok' : result.outcome, routeLength);
        if (result.ok) return result.output;
        if (result.failure.nonRetryable) throw result.failure;
        wrote = result.wrote;
        last = result.failure;
      }
      throw last ?? failure(FAILURE_TYPES.LlmTransient, `no provider serves model ${input.model}`);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Streams the reply from one provider into the request's events. Cancellation (the
   * request's, or a newer attempt's fence) is thrown; a provider's failure is returned.
   */
  async function streamFrom(
    target: RouteTarget,
    input: CallLlmInput,
    fence: number,
    emit: (event: RequestEvent) => Promise<number | null>,
    onFirstToken: () => void,
  ): Promise<TargetResult> {
    const ctx = Context.current();
    const abort = new AbortController();
    const onCancel = () => abort.abort();
    ctx.cancellationSignal.addEventListener('abort', onCancel);
    let stalled: 'first_token' | 'idle' | undefined;
    let first = true;
    const stallAfter = (ms: number, why: 'first_token' | 'idle') =>
      setTimeout(() => {
        stalled = why;
        abort.abort();
      }, ms);
    // Until the first token: the first-token limit; after it, silence between chunks.
    let timer = stallAfter(firstTokenTimeoutMs, 'first_token');
    const gotToken = () => {
      clearTimeout(timer);
      timer = stallAfter(LLM_IDLE_TIMEOUT_MS, 'idle');
      if (first) {
        first = false;
        onFirstToken();
      }
    };

    let received = false;
    let content = '';
    const toolCalls: LlmToolCall[] = [];
    let finishReason: string | null = null;
    let providerUsage: { prompt_tokens: number; completion_tokens: number } | undefined;
    const deltas = new DeltaWriter({
      write: (piece) =>
        deps.events.write(input.userId, input.requestId, { type: 'delta', content: piece }, { fence }),
      // Start the client's text over with everything so far.
      onLost: async (text) => {
        for (const event of lostTextRecovery(text)) await emit(event);
      },
      onStop: () => abort.abort(),
      settings: deps.deltaFlush,
    });
    const tools = input.tools?.length ? await offeredTools(input.tools, input.mcpTools === true) : [];
    try {
      const params = {
        model: target.upstream,
        messages: input.messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: input.maxTokens,
        ...(tools.length ? { tools } : {}),
        ...clientParams(input),
      };
      const stream = streamChatCompletion(target.provider.baseUrl, target.provider.apiKey, params, abort.signal);
      for await (const chunk of stream) {
        if (chunk.usage) providerUsage = chunk.usage;
        const choice = chunk.choices[0];
        if (!first) gotToken();
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
        if (first && (piece || choice.delta?.tool_calls?.length || choice.finish_reason)) gotToken();
      }
      received = true;
      await deltas.drain();
      if (deltas.superseded) throw new CancelledFailure('superseded');
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled');
      // The request ended (cancelled) or a newer attempt took over.
      if (deltas.superseded) throw new CancelledFailure('superseded');
      if (err instanceof CancelledFailure) throw err;
      // The reply was whole and writing it failed (Redis): not the provider's fault.
      if (received) throw toFailure(err, false);
      // What this provider wrote lands before anything the next one writes.
      await deltas.drain().catch(() => undefined);
      if (deltas.superseded) throw new CancelledFailure('superseded');
      const f = stalled === 'first_token' ? failure(FAILURE_TYPES.LlmTransient, `no first token within ${firstTokenTimeoutMs} ms`) : toFailure(err, stalled === 'idle');
      const outcome: TargetOutcome = f.nonRetryable ? 'error' : stalled === 'first_token' ? 'timeout' : first ? 'failed' : 'cut';
      return { ok: false, failure: f, outcome, wrote: deltas.writes > 0 };
    } finally {
      deltas.close();
      clearTimeout(timer);
      ctx.cancellationSignal.removeEventListener('abort', onCancel);
    }

    const usage: TokenUsage = providerUsage
      ? {
          promptTokens: providerUsage.prompt_tokens,
          completionTokens: providerUsage.completion_tokens,
          totalTokens: providerUsage.prompt_tokens + providerUsage.completion_tokens,
          estimated: false,
        }
      : estimateUsage(input, content, toolCalls, deps);
    const cost = costUsd(target.price, usage.promptTokens, usage.completionTokens);
    if (cost !== undefined) usage.costUsd = cost;
    return { ok: true, output: { content, toolCalls, finishReason, usage } };
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
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, estimated: true };
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
