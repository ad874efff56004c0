/**
 * The `summarize_document` tool: map-reduce summarisation of a long text through the
 * LLM, one chunk per step, then one call that combines the partial summaries.
 *
 * It runs as the single activity of its `toolWorkflow` and is built to be killed:
 * every finished chunk's summary goes into the heartbeat checkpoint, and a retried
 * attempt (after its worker died, or after an LLM failure) starts from the checkpoint
 * in `activityInfo().heartbeatDetails`, so no finished chunk is summarised twice.
 * Cancellation reaches it through heartbeats: it aborts the LLM call in flight, stops
 * reporting and ends cancelled.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { addUsage, NO_USAGE, type TokenUsage } from '../contracts/common';
import type { ToolHeartbeat } from '../contracts/tool';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { costUsd } from '../models/catalog';
import { primaryClient } from '../models/clients';
import { countPromptTokens, countTextTokens, modelInfo } from '../prompt/tokens';
import { chunkText } from '../tools/chunking';
import { DEFAULT_CHUNK_TOKENS, summarizeDocumentArgs } from '../tools/registry';
import type { ActivityDeps } from './deps';
import { toFailure } from './llm';
import { ToolProgressReporter } from './tool-progress';

export interface SummarizeDocumentInput {
  taskId: string;
  userId: string;
  requestId: string;
  model: string;
  args: Record<string, unknown>;
}

export interface SummarizeDocumentOutput {
  summary: string;
  chunks: number;
  usage: TokenUsage;
}

/** What a heartbeat carries to resume from: the chunk summaries done so far. */
export interface SummarizeCheckpoint {
  chunks: number;
  summaries: string[];
  usage: TokenUsage;
}

const SYSTEM_PROMPT =
  'You summarise documents. Summarise the text you are given in two or three sentences, ' +
  'keeping names, numbers and conclusions.';
/** Completion budget of one summarisation call. */
const SUMMARY_MAX_TOKENS = 300;
/** One LLM call that takes longer than this fails the attempt (which then retries). */
const LLM_CALL_TIMEOUT_MS = 120_000;

/** The checkpoint of an earlier attempt, if it belongs to this document's chunking. */
function resumable(details: unknown, chunks: number): SummarizeCheckpoint | undefined {
  const cp = (details as Partial<ToolHeartbeat<SummarizeCheckpoint>> | undefined)?.checkpoint;
  if (!cp || cp.chunks !== chunks || !Array.isArray(cp.summaries) || cp.summaries.length > chunks) {
    return undefined;
  }
  if (!cp.summaries.every((s) => typeof s === 'string')) return undefined;
  return { chunks, summaries: [...cp.summaries], usage: cp.usage ?? NO_USAGE };
}

/** Creates the `summarize_document` activity over its dependencies. */
export function createSummarizeDocumentActivities(deps: ActivityDeps) {
  /** One non-streamed LLM call; cancellable through the activity's cancellation. */
  async function complete(
    model: string,
    user: string,
    signal: AbortSignal,
  ): Promise<{ text: string; usage: TokenUsage }> {
    const messages = [
      { role: 'system' as const, content: SYSTEM_PROMPT },
      { role: 'user' as const, content: user },
    ];
    // With LLM_CONFIG: the model's primary provider, under the name it knows, at its price.
    const routed = deps.catalog?.configured ? primaryClient(deps.catalog, model) : undefined;
    const priced = (u: TokenUsage): TokenUsage => {
      const cost = costUsd(routed?.target.price, u.promptTokens, u.completionTokens);
      return cost === undefined ? u : { ...u, costUsd: cost };
    };
    let res;
    try {
      res = await (routed?.client ?? deps.llm).chat.completions.create(
        { model: routed?.target.upstream ?? model, messages, max_tokens: SUMMARY_MAX_TOKENS, stream: false },
        { signal, timeout: LLM_CALL_TIMEOUT_MS },
      );
    } catch (err) {
      if (signal.aborted) throw new CancelledFailure('cancelled');
      throw toFailure(err, false);
    }
    const text = (res.choices[0]?.message?.content ?? '').trim();
    if (res.usage) {
      const { prompt_tokens: p, completion_tokens: c } = res.usage;
      return {
        text,
        usage: priced({ promptTokens: p, completionTokens: c, totalTokens: p + c, estimated: false }),
      };
    }
    const { encoding } = modelInfo(model, deps.models);
    const p = countPromptTokens(messages, encoding);
    const c = countTextTokens(text, encoding);
    return {
      text,
      usage: priced({ promptTokens: p, completionTokens: c, totalTokens: p + c, estimated: true }),
    };
  }

  async function summarizeDocument(
    input: SummarizeDocumentInput,
  ): Promise<SummarizeDocumentOutput> {
    const ctx = Context.current();
    const parsed = summarizeDocumentArgs.safeParse(input.args);
    if (!parsed.success) {
      throw failure(
        FAILURE_TYPES.InvalidToolArguments,
        'invalid arguments for summarize_document',
        {
          nonRetryable: true,
        },
      );
    }
    const { encoding } = modelInfo(input.model, deps.models);
    const chunks = chunkText(
      parsed.data.text,
      parsed.data.chunkTokens ?? DEFAULT_CHUNK_TOKENS,
      encoding,
    );
    const n = chunks.length;
    const steps = n > 1 ? n + 1 : n;
    const resumed = resumable(ctx.info.heartbeatDetails, n);
    const cp: SummarizeCheckpoint = resumed ?? { chunks: n, summaries: [], usage: NO_USAGE };
    const startedAt = Date.now();
    let step = cp.summaries.length;
    let message = resumed
      ? `resumed after chunk ${step} of ${n} (attempt ${ctx.info.attempt})`
      : `starting: ${n} chunk${n === 1 ? '' : 's'}`;
    let done = false;
    const snapshot = (): ToolHeartbeat<SummarizeCheckpoint> => ({
      progress: done ? 100 : Math.min(99, Math.floor((step / Math.max(steps, 1)) * 100)),
      message: done ? message : `${message} (${Math.round((Date.now() - startedAt) / 1000)} s)`,
      checkpoint: cp,
    });
    const reporter = new ToolProgressReporter(
      ctx,
      deps,
      { userId: input.userId, requestId: input.requestId, taskId: input.taskId },
      snapshot,
    );
    const signal = ctx.cancellationSignal;
    reporter.start();
    try {
      for (let i = cp.summaries.length; i < n; i++) {
        if (signal.aborted) throw new CancelledFailure('cancelled');
        message = `summarising chunk ${i + 1} of ${n}`;
        const out = await complete(
          input.model,
          `Summarize part ${i + 1} of ${n} of a document:\n${chunks[i]}`,
          signal,
        );
        cp.summaries.push(out.text);
        cp.usage = addUsage(cp.usage, out.usage);
        step = cp.summaries.length;
        await reporter.report();
      }
      let summary = cp.summaries[0] ?? '';
      if (n > 1) {
        message = `combining ${n} partial summaries`;
        await reporter.report();
        const out = await complete(
          input.model,
          `Summarize these summaries of the parts of one document into a single summary:\n${cp.summaries.join('\n')}`,
          signal,
        );
        summary = out.text;
        cp.usage = addUsage(cp.usage, out.usage);
      }
      step = steps;
      done = true;
      message = 'done';
      await reporter.report(true);
      return { summary, chunks: n, usage: cp.usage };
    } catch (err) {
      if (signal.aborted) {
        message = 'cancelled';
        await reporter.report(true);
        // The details tell the workflow how far the tool got (the task's last progress).
        const { progress } = snapshot();
        throw new CancelledFailure('cancelled', [
          { progress, message: `cancelled at ${progress}%` },
        ]);
      }
      throw err;
    } finally {
      reporter.stop();
    }
  }

  return { summarizeDocument };
}
