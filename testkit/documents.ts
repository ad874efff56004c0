/** Documents for the `summarize_document` tool tests, with one chunk the embedded LLM is slow on. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { pendingTools } from '../store/tool-tasks';
import { chunkText } from '../tools/chunking';

/**
 * A document of `words` distinct words (unique to the caller) whose `slowAt`-th chunk of
 * `chunkTokens` holds `[[delay_ms:N]]`, so the embedded LLM is slow on that chunk only:
 * a test can act (kill a worker, cancel) while that chunk is in flight, with the
 * checkpoint of every earlier chunk already heartbeated.
 */
export function slowDocument(
  words: number,
  chunkTokens: number,
  slowAt: number,
  delayMs: number,
): { text: string; chunks: string[] } {
  const tag = randomUUID().slice(0, 6);
  const plain = Array.from({ length: words }, (_, i) => `${tag}w${i}`);
  const chunks = chunkText(plain.join(' '), chunkTokens, 'o200k_base');
  const slowWord = (chunks[slowAt] ?? '').split(' ')[1];
  const text = plain.map((w) => (w === slowWord ? `${w} [[delay_ms:${delayMs}]]` : w)).join(' ');
  const final = chunkText(text, chunkTokens, 'o200k_base');
  assert.ok(final[slowAt]?.includes('[[delay_ms:'), 'the slow directive sits in the chosen chunk');
  return { text, chunks: final };
}

/**
 * How many chunk summaries the server holds in the running tool's last heartbeat
 * checkpoint (0 while the tool has not started or has not heartbeated yet).
 */
export async function checkpointedChunks(tool: WorkflowHandle): Promise<number> {
  const desc = await tool.describe().catch(() => undefined); // not started yet
  const beat = desc && (await pendingTools(tool.client, desc))[0]?.details;
  return (beat?.checkpoint as { summaries?: string[] } | undefined)?.summaries?.length ?? 0;
}
