/**
 * Records workflow histories for the replay test (test/replay.test.ts): runs a few
 * representative chat requests on the local stack and saves each workflow's history as
 * JSON under test/fixtures/histories/.
 *
 * Recordings are the gate for workflow changes (README "Rolling out a workflow change"):
 * a replay failure means a change would break running workflows; such a change needs
 * `patched()` (or a new workflow type), not a new recording. So this script never
 * overwrites a recording: when `<scenario>.json` exists it writes
 * `<scenario>.<label>.json` (label: the argument, default today's UTC date), and the
 * replay test then replays the old and the new history.
 * Usage (with the stack up, e.g. `npm start` in another terminal):
 *   npx tsx scripts/record-histories.ts [label]
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chatWorkflowId } from '../contracts/definitions';
import { startSystem } from '../test/helpers/system';
import { findTemporalBinary } from './stack';

const OUT = path.join(__dirname, '..', 'test', 'fixtures', 'histories');

const SCENARIOS: Record<string, string> = {
  'chat-done': 'Hello [[tokens:6]]',
  'chat-llm-retry': `retry ${randomUUID()} [[fail_once:500]] [[tokens:4]]`,
  'chat-calculator': '[[tool:calculator {"expression":"6*7"}]]',
  'chat-llm-unavailable': 'broken [[fail:500]]',
};

/** `<scenario>.json` the first time, then `<scenario>.<label>.json`. */
function recordingFile(scenario: string): string {
  const first = path.join(OUT, `${scenario}.json`);
  if (!existsSync(first)) return first;
  const label = process.argv[2] ?? new Date().toISOString().slice(0, 10);
  return path.join(OUT, `${scenario}.${label}.json`);
}

async function main(): Promise<void> {
  const cli = findTemporalBinary();
  if (!cli) throw new Error('no temporal CLI found (npm test or npm start builds it)');
  const sys = await startSystem();
  try {
    const { userId, token } = sys.newUser();
    const sessionId = await sys.createSession(token);
    const client = await sys.connect(token);
    for (const [name, content] of Object.entries(SCENARIOS)) {
      const requestId = randomUUID();
      client.send({ type: 'chat', requestId, sessionId, content });
      await client.end(requestId, 60_000);
      const handle = sys.temporal.workflow.getHandle(chatWorkflowId(userId, requestId));
      await handle.result().catch(() => undefined);
      // The CLI's JSON is the format Temporal's tools exchange (and historyFromJSON reads).
      const json = execFileSync(
        cli,
        [
          'workflow',
          'show',
          '--address',
          sys.config.temporalAddress,
          '--namespace',
          sys.config.temporalNamespace,
          '-w',
          handle.workflowId,
          '-o',
          'json',
        ],
        { encoding: 'utf8' },
      );
      const file = recordingFile(name);
      writeFileSync(file, json, { flag: 'wx' }); // never overwrite a recording
      const events = (JSON.parse(json) as { events: unknown[] }).events.length;
      process.stdout.write(`recorded ${path.relative(process.cwd(), file)} (${events} events)\n`);
    }
    await client.close();
  } finally {
    await sys.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
