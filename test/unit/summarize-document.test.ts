/**
 * The long tool (activities/summarize-document.ts) resuming from its heartbeat
 * checkpoint, under MockActivityEnvironment: the attempt is handed the details an earlier
 * attempt heartbeated, as Temporal hands them to a retry, and the embedded LLM's call log
 * shows which chunks it summarised. No Temporal, Redis or Postgres.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TokenUsage } from '../../contracts/common';
import type { ToolHeartbeat } from '../../contracts/tool';
import {
  createSummarizeDocumentActivities,
  type SummarizeCheckpoint,
} from '../../activities/summarize-document';
import { startLocalLlm, type LocalLlm } from '../../local-llm/server';
import { chunkText } from '../../tools/chunking';
import { mockActivityEnv, runActivity, unitActivityDeps } from '../../testkit/activity-deps';
import { MemoryEventLog } from '../../testkit/memory-event-log';

const MODEL = 'gpt-4o-mini';
const CHUNK_TOKENS = 20;
const TEXT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
const CHUNKS = chunkText(TEXT, CHUNK_TOKENS, 'o200k_base').length;

/** Summaries the LLM never writes, so the combining call shows they came from the checkpoint. */
const EARLIER = ['EARLIER-SUMMARY-ONE', 'EARLIER-SUMMARY-TWO'];
const EARLIER_USAGE: TokenUsage = {
  promptTokens: 70,
  completionTokens: 30,
  totalTokens: 100,
  estimated: false,
};

function heartbeat(checkpoint: SummarizeCheckpoint): ToolHeartbeat<SummarizeCheckpoint> {
  return { progress: 40, message: 'summarising chunk 3', checkpoint };
}

void describe('summarizeDocument (MockActivityEnvironment)', { timeout: 15_000 }, () => {
  let llm: LocalLlm;
  before(async () => {
    llm = await startLocalLlm({ port: 0 });
    assert.ok(CHUNKS >= 4, `the document makes ${CHUNKS} chunks`);
  });
  after(() => llm.close());

  async function run(details: ToolHeartbeat<SummarizeCheckpoint>) {
    llm.resetStats();
    const log = new MemoryEventLog();
    const { summarizeDocument } = createSummarizeDocumentActivities(
      unitActivityDeps({ events: log, llmUrl: llm.url }),
    );
    const env = mockActivityEnv({ attempt: 2, heartbeatDetails: details });
    const beats: Array<ToolHeartbeat<SummarizeCheckpoint>> = [];
    env.on('heartbeat', (d: ToolHeartbeat<SummarizeCheckpoint>) => beats.push(structuredClone(d)));
    const out = await runActivity(env, summarizeDocument, {
      taskId: 't1',
      userId: 'u1',
      requestId: 'r1',
      model: MODEL,
      args: { text: TEXT, chunkTokens: CHUNK_TOKENS },
    });
    const prompts = llm.stats.calls.map((c) => c.lastUserMessage);
    return { out, beats, prompts, calls: llm.stats.calls, log };
  }

  void it('resumes after the checkpointed chunks: summarises only the rest, combines all', async () => {
    const { out, beats, prompts, calls, log } = await run(
      heartbeat({ chunks: CHUNKS, summaries: EARLIER, usage: EARLIER_USAGE }),
    );
    const parts = prompts.filter((p) => p.startsWith('Summarize part '));
    assert.deepEqual(
      parts.map((p) => p.split(' of ')[0]),
      Array.from({ length: CHUNKS - 2 }, (_, i) => `Summarize part ${i + 3}`),
      'chunks 1 and 2 are not summarised again',
    );
    const combine = prompts.at(-1) ?? '';
    assert.match(combine, /^Summarize these summaries/);
    assert.ok(
      combine.includes(`\n${EARLIER.join('\n')}\n`),
      'the checkpoint summaries are combined',
    );
    assert.equal(out.chunks, CHUNKS);
    // Usage: the checkpoint's, plus exactly this attempt's calls.
    const prompt = calls.reduce((n, c) => n + c.promptTokens, 0);
    const completion = calls.reduce((n, c) => n + c.completionTokens, 0);
    assert.equal(out.usage.promptTokens, EARLIER_USAGE.promptTokens + prompt);
    assert.equal(out.usage.completionTokens, EARLIER_USAGE.completionTokens + completion);
    assert.match(beats[0]?.message ?? '', /^resumed after chunk 2 of \d+ \(attempt 2\)/);
    const last = beats.at(-1)?.checkpoint.summaries ?? [];
    assert.deepEqual(last.slice(0, 2), EARLIER);
    assert.equal(last.length, CHUNKS);
    assert.ok(
      log.events('r1').some((e) => e.type === 'tool_progress' && e.message.startsWith('resumed')),
      'the client hears it resumed',
    );
  });

  void it('a checkpoint of another chunking is not resumed from: every chunk is summarised', async () => {
    const { out, prompts } = await run(
      heartbeat({ chunks: CHUNKS + 1, summaries: EARLIER, usage: EARLIER_USAGE }),
    );
    assert.equal(prompts.filter((p) => p.startsWith('Summarize part ')).length, CHUNKS);
    assert.ok(!(prompts.at(-1) ?? '').includes(EARLIER[0]!));
    assert.ok(out.usage.totalTokens > 0);
  });
});
