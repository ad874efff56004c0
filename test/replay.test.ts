/**
 * Replays recorded workflow histories (test/fixtures/histories, recorded by
 * scripts/record-histories.ts) against the current workflow code. A failure means a
 * code change would break workflows already running in production: once released,
 * guard such a change with `patched()` instead of re-recording (before the first
 * release, re-recording with scripts/record-histories.ts is fine). This test is the
 * gate of the README runbook "Rolling out a workflow change".
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { loadConfig } from '../lib/config';

const DIR = path.join(__dirname, 'fixtures', 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function workflowSource() {
  const bundle = loadConfig().workflowBundlePath;
  return bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../workflows') };
}

describe('replay of recorded histories', () => {
  it('has recordings', () => {
    assert.ok(files.length >= 8, `histories in ${DIR}`);
    // Both shapes of the chat workflow keep replaying: `<scenario>.json` recorded with a
    // billing child per request, `<scenario>.v2.json` after the ledger-in-reply-step patch.
    assert.ok(files.includes('chat-done.json') && files.includes('chat-done.v2.json'));
  });

  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(DIR, file), 'utf8')));
      await Worker.runReplayHistory({ ...workflowSource(), replayName: file }, history, file);
    });
  }
});
