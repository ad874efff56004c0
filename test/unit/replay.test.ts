/**
 * Replays recorded workflow histories (test/unit/fixtures/histories, recorded by
 * scripts/record-histories.ts) against the current workflow code. A failure means a
 * code change would break workflows already running in production: once released,
 * guard such a change with `patched()` instead of re-recording (before the first
 * release, re-recording with scripts/record-histories.ts is fine). This test is the
 * gate of the README runbook "Rolling out a workflow change"; it also fails while a
 * workflow type the workers run has no recording (so a new type cannot skip the gate).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayResult } from '@temporalio/worker';
import { loadConfig } from '../../lib/config';
import * as workflows from '../../workflows';
import { workflowBundle } from '../../workers/bundle';

const DIR = path.join(__dirname, 'fixtures', 'histories');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const histories = new Map(
  files.map((f) => [f, JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as unknown]),
);

/** The workflow type a recording ran (its first event's). */
function workflowType(history: unknown): string | undefined {
  const first = (history as { events?: Array<Record<string, any>> }).events?.[0];
  return first?.workflowExecutionStartedEventAttributes?.workflowType?.name as string | undefined;
}

/**
 * Replays every recording through one replay worker over one bundle of the workflow code
 * (the prebuilt bundle when there is one). A worker and a webpack run per recording were
 * most of the unit tier's time. Each recording's outcome, by file name.
 */
async function replayAll(): Promise<Map<string, ReplayResult>> {
  const bundle = await workflowBundle(loadConfig().workflowBundlePath);
  const results = new Map<string, ReplayResult>();
  const replays = Worker.runReplayHistories(
    { workflowBundle: bundle, replayName: 'recorded-histories' },
    files.map((f) => ({ workflowId: f, history: historyFromJSON(histories.get(f)) })),
  );
  for await (const result of replays) results.set(result.workflowId, result);
  return results;
}

describe('replay of recorded histories', () => {
  it('has recordings', () => {
    assert.ok(files.length >= 8, `histories in ${DIR}`);
    assert.ok(files.includes('chat-done.json'));
  });

  it('has a recording of every workflow type the workers run', () => {
    const recorded = new Set([...histories.values()].map(workflowType));
    const types = Object.entries(workflows)
      .filter(([, v]) => typeof v === 'function')
      .map(([name]) => name);
    assert.ok(types.length >= 4, `workflow types exported by workflows/index.ts: ${types.join()}`);
    const missing = types.filter((t) => !recorded.has(t));
    assert.deepEqual(missing, [], 'add a scenario to scripts/record-histories.ts and record it');
  });

  let replayed: Promise<Map<string, ReplayResult>> | undefined;
  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      const result = (await (replayed ??= replayAll())).get(file);
      assert.ok(result, `${file} was replayed`);
      if (result.error) throw result.error;
    });
  }
});
