/**
 * What chatWorkflow does after the LLM's reply, fast (real workflows, real Temporal
 * server, typed fake activities): a due summary is announced by the reply step and
 * starts as a child only after the reply is stored (`done` sent), and a reply store that fails past its budget
 * (`replyStoreBudgetMs`) hands the usage record to a `billingWorkflow` child.
 * test/stack/billing-handoff.test.ts proves the hand-off end to end with a real Postgres outage.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { billingWorkflowId } from '../../contracts/billing';
import { summaryWorkflowId } from '../../contracts/summarize';
import { FAILURE_TYPES } from '../../contracts/errors';
import { localRetryWithin } from '../../workflows/proxies';
import { errorEvent, expectedRecord, runChat } from '../../testkit/chat-run';
import { eventually } from '../../testkit/poll';
import { uniqueTaskQueues } from '../../testkit/system';
import {
  CallLog,
  chatFakes,
  historySteps,
  LLM_USAGE,
  recorded,
  useWorkflowEnv,
} from '../../testkit/workflow-env';

const env = useWorkflowEnv();

describe('chatWorkflow: summaries', () => {
  it('a due summary starts after the reply is stored, with the prompt window as its fold point', async () => {
    const happy = chatFakes();
    const run = await runChat(
      env,
      {
        prepareChat: async (input) => ({
          ...(await happy.prepareChat!(input)),
          summaryDue: true,
          windowStartId: 'm-41',
        }),
        summarizeSession: () =>
          Promise.resolve({ status: 'summarized', watermark: 'm-40', foldedMessages: 30 }),
      },
      {
        // The child is abandoned: the chat completes without it, so wait until it ran.
        during: (_, calls) =>
          eventually('the summary ran', () => calls.count('summarizeSession') === 1),
      },
    );
    assert.equal('result' in run.ended && run.ended.result.status, 'completed');
    const { settings, sessionId } = run.input;
    assert.deepEqual(run.calls.of('summarizeSession'), [
      {
        sessionId,
        model: settings.summaryModel,
        keepRecent: settings.maxHistoryMessages,
        foldBefore: 'm-41',
        minNewMessages: settings.summaryMinNewMessages,
        maxSummaryTokens: settings.summaryMaxTokens,
      },
    ]);
    // The reply step announces the summary (`status: summarizing` before `done`); the
    // child starts after it.
    const chatSteps = run.calls.names().filter((n) => n !== 'summarizeSession');
    assert.equal(chatSteps.at(-1), 'saveReply');
    assert.ok(!chatSteps.includes('emitEvent'));
    assert.equal(run.calls.of('saveReply')[0]!.summarizing, true);
    const steps = await historySteps(run.handle);
    assert.deepEqual(steps.slice(-2), ['local:saveReply', 'child:summarizeWorkflow']);
    const child = env.client.workflow.getHandle(summaryWorkflowId(sessionId));
    const summary = await eventually('the summary completed', async () => {
      const d = await child.describe();
      return d.status.name === 'COMPLETED' && d;
    });
    assert.equal(summary.parentExecution?.workflowId, run.handle.workflowId);
  });

  it('no summary when none is due: no child, no status event', async () => {
    const run = await runChat(env, {});
    assert.equal('result' in run.ended && run.ended.result.status, 'completed');
    assert.ok(!run.calls.names().includes('emitEvent'));
    assert.equal(run.calls.of('saveReply')[0]!.summarizing, false);
    assert.ok(!(await historySteps(run.handle)).some((s) => s.startsWith('child:')));
    await assert.rejects(
      env.client.workflow.getHandle(summaryWorkflowId(run.input.sessionId)).describe(),
      WorkflowNotFoundError,
    );
  });
});

describe('chatWorkflow: billing hand-off', () => {
  it('the reply store failing past its budget hands the usage record to a billingWorkflow child', async () => {
    const budgetMs = 500;
    const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    // Billing has its own queue and worker, where Postgres is back.
    const taskQueues = uniqueTaskQueues();
    const billingCalls = new CallLog();
    const billing = {
      taskQueue: taskQueues.billing,
      activities: recorded(
        { recordUsage: () => Promise.resolve({ inserted: true }) },
        billingCalls,
      ),
    };
    const run = await runChat(
      env,
      { saveReply: down, recordUsage: down },
      {
        taskQueues,
        input: { settings: { replyStoreBudgetMs: budgetMs } },
        others: [billing],
        during: () =>
          eventually(
            'the billing workflow wrote the row',
            () => billingCalls.count('recordUsage') === 1,
          ),
      },
    );

    // A system failure: the workflow fails (operators see it), the client is told `internal`.
    assert.ok('failure' in run.ended && run.ended.failure.type === FAILURE_TYPES.Internal);
    assert.equal(errorEvent(run.calls)?.code, 'internal');
    // Both ledger writes were retried within the budget, no longer.
    const maxAttempts = localRetryWithin(budgetMs).retry!.maximumAttempts!;
    for (const step of ['saveReply', 'recordUsage'] as const) {
      const n = run.calls.count(step);
      assert.ok(
        n >= 2 && n <= maxAttempts,
        `${step}: ${n} attempts (budget allows ${maxAttempts})`,
      );
    }
    assert.deepEqual(
      run.calls.of('settleUsage').map((s) => s.usage),
      [LLM_USAGE],
      'settled once',
    );

    const { userId, requestId } = run.input;
    const record = expectedRecord(run.input);
    assert.deepEqual(run.calls.of('saveReply')[0]!.ledger, record);
    assert.deepEqual(
      billingCalls.of('recordUsage'),
      [record],
      'the billing workflow got the same record',
    );
    const child = env.client.workflow.getHandle(billingWorkflowId(userId, requestId));
    const described = await child.describe();
    assert.equal(described.taskQueue, taskQueues.billing);
    assert.equal(described.parentExecution?.workflowId, run.handle.workflowId);
    assert.deepEqual(await child.result(), { inserted: true });
    const steps = await historySteps(run.handle);
    assert.deepEqual(
      steps.slice(-2),
      ['local:recordUsage', 'child:billingWorkflow'],
      'handed off after the ledger write failed',
    );
  });

  it('a reply stored within its budget starts no billing workflow', async () => {
    let attempt = 0;
    const run = await runChat(env, {
      saveReply: () =>
        ++attempt === 1
          ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))
          : Promise.resolve({ messageId: 'reply-1' }),
    });
    assert.equal('result' in run.ended && run.ended.result.status, 'completed');
    assert.equal(run.calls.count('saveReply'), 2);
    assert.equal(run.calls.count('recordUsage'), 0);
    await assert.rejects(
      env.client.workflow
        .getHandle(billingWorkflowId(run.input.userId, run.input.requestId))
        .describe(),
      WorkflowNotFoundError,
    );
  });
});
