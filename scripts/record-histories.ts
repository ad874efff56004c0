/**
 * Records workflow histories for the replay test (test/unit/replay.test.ts): runs
 * representative requests on the local stack (every workflow type, and the chat's
 * ending paths: done, LLM retry and failure, tools, cancel, quota refusal, a summary
 * due) and saves each workflow's history as JSON under test/unit/fixtures/histories/.
 *
 * Recordings are the gate for workflow changes (README "Rolling out a workflow change"):
 * a replay failure means a change would break running workflows; such a change needs
 * `patched()` (or a new workflow type), not a new recording. So this script never
 * overwrites a recording: when `<name>.json` exists it writes `<name>.<label>.json`
 * (label: default today's UTC date), and the replay test then replays the old and the
 * new history.
 * Usage (with the stack up, e.g. `npm start` in another terminal):
 *   npx tsx scripts/record-histories.ts [label] [scenario ...]
 * Arguments naming a scenario (keys of SCENARIOS) record only those; any other is the label.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { billingWorkflowId, type UsageRecord } from '../contracts/billing';
import { chatWorkflowId } from '../contracts/chat';
import { summaryWorkflowId } from '../contracts/summarize';
import type { Plan } from '../contracts/common';
import type { billingWorkflow } from '../workflows';
import { startSystem, type TestSystem } from '../testkit/system';
import { slowDocument } from '../testkit/documents';
import type { Frame } from '../testkit/ws-client';
import { findTemporalBinary } from './stack';

const OUT = path.join(__dirname, '..', 'test', 'unit', 'fixtures', 'histories');

/**
 * What a scenario ran: recording name -> workflow id, or id and run when the id may have
 * run more than once (a session's summaries). Saved once the workflow has closed.
 */
type Recordings = Record<string, string | { workflowId: string; runId: string }>;

interface ChatOptions {
  plan?: Plan;
  /** Sends `cancel` once a frame of the request matches. */
  cancelWhen?: (frame: Frame) => boolean;
  /** Who talks, in which session (default: a new user and session, so no scenario triggers another's summary). */
  as?: { userId: string; token: string; sessionId: string };
  /** Called with the new user before the request (e.g. to lower their quota). */
  prepare?: (userId: string) => Promise<unknown>;
}

/** One chat request over the WebSocket, to its end; returns its ids and frames. */
async function chat(sys: TestSystem, content: string, options: ChatOptions = {}) {
  const user = options.as ?? sys.newUser(options.plan ?? 'pro');
  const { userId, token } = user;
  const sessionId = options.as?.sessionId ?? (await sys.createSession(token));
  await options.prepare?.(userId);
  const client = await sys.connect(token);
  try {
    const requestId = randomUUID();
    client.send({ type: 'chat', requestId, sessionId, content });
    if (options.cancelWhen) {
      const when = options.cancelWhen;
      await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && when(f)), 60_000);
      client.send({ type: 'cancel', requestId });
    }
    await client.end(requestId, 60_000);
    const workflowId = chatWorkflowId(userId, requestId);
    return { userId, token, sessionId, requestId, frames: client.of(requestId), workflowId };
  } finally {
    await client.close();
  }
}

/** A scenario that is one chat request, recorded as `name`. */
const chatOnly =
  (name: string, content: string, options?: ChatOptions) =>
  async (sys: TestSystem): Promise<Recordings> => ({
    [name]: (await chat(sys, content, options)).workflowId,
  });

const summarizeDocument = (args: unknown) => `[[tool:summarize_document ${JSON.stringify(args)}]]`;

/** The task id (tool workflow id) of the request's one long-running tool call. */
function taskIdOf(frames: Frame[]): string {
  const call = frames.find((f) => f.type === 'tool_call' && typeof f.taskId === 'string');
  if (!call) throw new Error('the request started no long-running tool');
  return String(call.taskId);
}

const SCENARIOS: Record<string, (sys: TestSystem) => Promise<Recordings>> = {
  'chat-done': chatOnly('chat-done', 'Hello [[tokens:6]]'),
  'chat-llm-retry': chatOnly(
    'chat-llm-retry',
    `retry ${randomUUID()} [[fail_once:500]] [[tokens:4]]`,
  ),
  'chat-calculator': chatOnly('chat-calculator', '[[tool:calculator {"expression":"6*7"}]]'),
  'chat-llm-unavailable': chatOnly('chat-llm-unavailable', 'broken [[fail:500]]'),
  'chat-cancel': chatOnly('chat-cancel', 'long [[tokens:400]] [[delay_ms:50]]', {
    cancelWhen: (f) => f.type === 'delta',
  }),
  'chat-quota-exceeded': async (sys) => {
    // A daily quota of one token: the reservation (prompt + completion budget) is refused.
    const lowQuota = (userId: string) =>
      sys.api.deps.db.query(
        'INSERT INTO user_quota_overrides (user_id, daily_tokens) VALUES ($1, 1)',
        [userId],
      );
    const run = await chat(sys, 'over quota', { plan: 'free', prepare: lowQuota });
    return { 'chat-quota-exceeded': run.workflowId };
  },
  'tool-summarize-document': async (sys) => {
    const run = await chat(sys, summarizeDocument({ text: 'word '.repeat(120), chunkTokens: 40 }));
    return {
      'chat-summarize-document': run.workflowId,
      'tool-summarize-document': taskIdOf(run.frames),
    };
  },
  'tool-cancel': async (sys) => {
    // Slow on the second chunk: the cancel lands mid-tool, after a checkpoint.
    const doc = slowDocument(20, 40, 1, 3000);
    const run = await chat(sys, summarizeDocument({ text: doc.text, chunkTokens: 40 }), {
      cancelWhen: (f) => f.type === 'tool_progress' && Number(f.progress) > 0,
    });
    return { 'chat-tool-cancel': run.workflowId, 'tool-cancelled': taskIdOf(run.frames) };
  },
  summarize: async (sys) => {
    // Enough exchanges in one session to pass SUMMARY_THRESHOLD (default settings).
    // The request that started the summary: its history holds the child's run.
    const first = await chat(sys, 'message 0 [[tokens:2]]');
    for (let i = 1; i <= 30; i++) {
      const run = await chat(sys, `message ${i} [[tokens:2]]`, { as: first });
      const chatRun = sys.temporal.workflow.getHandle(run.workflowId);
      await chatRun.result();
      const started = (await chatRun.fetchHistory()).events?.find(
        (e) => e.childWorkflowExecutionStartedEventAttributes,
      );
      const runId = started?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.runId;
      if (runId)
        return {
          'chat-summary-due': run.workflowId,
          summarize: { workflowId: summaryWorkflowId(first.sessionId), runId },
        };
    }
    throw new Error('no summary started after 30 exchanges');
  },
  billing: async (sys) => {
    // A billing workflow as the chat hands one off (its id and record), started directly.
    const { userId } = sys.newUser('pro');
    const requestId = randomUUID();
    const record: UsageRecord = {
      userId,
      requestId,
      sessionId: randomUUID(),
      model: sys.config.llm.model,
      promptTokens: 20,
      completionTokens: 10,
      totalTokens: 30,
      estimated: false,
      createdAt: new Date().toISOString(),
    };
    const workflowId = billingWorkflowId(userId, requestId);
    await sys.temporal.workflow.execute<typeof billingWorkflow>('billingWorkflow', {
      workflowId,
      taskQueue: sys.config.taskQueues.billing,
      args: [record],
    });
    return { billing: workflowId };
  },
};

/** `<name>.json` the first time, then `<name>.<label>.json`. */
function recordingFile(name: string, label: string): string {
  const first = path.join(OUT, `${name}.json`);
  return existsSync(first) ? path.join(OUT, `${name}.${label}.json`) : first;
}

async function main(): Promise<void> {
  const cli = findTemporalBinary();
  if (!cli) throw new Error('no temporal CLI found (npm test or npm start builds it)');
  const args = process.argv.slice(2);
  const only = args.filter((a) => a in SCENARIOS);
  const label = args.find((a) => !(a in SCENARIOS)) ?? new Date().toISOString().slice(0, 10);
  const sys = await startSystem();
  try {
    for (const [scenario, run] of Object.entries(SCENARIOS)) {
      if (only.length > 0 && !only.includes(scenario)) continue;
      for (const [name, target] of Object.entries(await run(sys))) {
        const { workflowId, runId } =
          typeof target === 'string' ? { workflowId: target, runId: undefined } : target;
        await sys.temporal.workflow
          .getHandle(workflowId, runId)
          .result()
          .catch(() => undefined);
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
            workflowId,
            ...(runId ? ['-r', runId] : []),
            '-o',
            'json',
          ],
          { encoding: 'utf8' },
        );
        const file = recordingFile(name, label);
        writeFileSync(file, json, { flag: 'wx' }); // never overwrite a recording
        const events = (JSON.parse(json) as { events: unknown[] }).events.length;
        process.stdout.write(`recorded ${path.relative(process.cwd(), file)} (${events} events)\n`);
      }
    }
  } finally {
    await sys.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
