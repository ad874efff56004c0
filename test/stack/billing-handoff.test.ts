/**
 * The billing hand-off on the real stack: when Postgres stays down past the chat
 * workflow's reply step (REPLY_STORE_BUDGET_MS), the request ends `internal` and its
 * usage record goes to a `billingWorkflow`, which ops can list and retry and which
 * lands the ledger row exactly once when Postgres is back. Its own file: it runs a
 * second system on a throwaway Postgres.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { billingWorkflowId, type UsageRecord } from '../../contracts/billing';
import { chatWorkflowId } from '../../contracts/chat';
import { createPool } from '../../store/db';
import { migrate } from '../../store/migrate';
import { billingCommands, listFailedBilling } from '../../scripts/ops/billing';
import { startSystem, type TestSystem } from '../../testkit/system';
import { startThrowawayPostgres } from '../../testkit/throwaway-pg';
import { eventually } from '../../testkit/poll';
import { ledgerRows } from '../../testkit/usage';

describe('billing hand-off: Postgres down past the reply step', () => {
  it('hands the ledger row to a billingWorkflow, which ops can list, retry and land exactly once', async () => {
    const pg = await startThrowawayPostgres();
    const url = `${pg.url}/reply_outage`;
    await migrate(url);
    // A short store budget so the reply step gives up in seconds, not minutes.
    const outage = await startSystem({ env: { DATABASE_URL: url, REPLY_STORE_BUDGET_MS: '2000' } });
    const ledger = createPool(url, 2);
    try {
      const { userId, sessionId, client } = await outage.newChat();
      const requestId = randomUUID();
      client.send({
        type: 'chat',
        requestId,
        sessionId,
        content: 'outage [[tokens:30]] [[delay_ms:40]]',
      });
      await client.waitFor((fs) => fs.some((f) => f.requestId === requestId && f.type === 'delta'));
      await pg.stop();
      const end = await client.end(requestId, 60_000);
      assert.equal(end.type, 'error');
      assert.equal(end.code, 'internal');
      const usage = client.of(requestId).find((f) => f.type === 'usage');
      assert.ok(usage, 'usage was settled (Redis) before the reply step');

      const chat = outage.temporal.workflow.getHandle(chatWorkflowId(userId, requestId));
      await eventually('chat failed', async () => (await chat.describe()).status.name === 'FAILED');
      const billing = outage.temporal.workflow.getHandle(billingWorkflowId(userId, requestId));
      const started = await billing.describe();
      assert.equal(started.taskQueue, outage.config.taskQueues.billing);
      assert.equal(started.status.name, 'RUNNING', 'retrying while Postgres is down');

      // Ops' view: a billing run that ended badly (here terminated) is listed, and a
      // retry lands the row once Postgres is back.
      await billing.terminate('test: billing run gave up while Postgres was down');
      const out: string[] = [];
      const ctx = {
        config: outage.config,
        temporal: outage.temporal,
        out: (l: string) => out.push(l),
      };
      await eventually('the terminated billing run listed', async () => {
        const failed = await listFailedBilling(outage.temporal);
        return failed.some((f) => f.workflowId === billing.workflowId);
      });
      await pg.start();
      assert.equal(
        await billingCommands['billing:retry']!.run([billing.workflowId], ctx),
        0,
        out.join('\n'),
      );
      // The retried run lands the row, unless an attempt of the terminated run that was
      // already executing landed it first: either way exactly one row, never two.
      const landed = await billing.result();
      assert.equal(typeof landed.inserted, 'boolean');
      assert.equal((await billing.describe()).status.name, 'COMPLETED');
      const rows = await ledgerRows(ledger, userId);
      assert.equal(rows.length, 1, 'exactly one ledger row');
      assert.equal(rows[0]?.request_id, requestId);
      assert.equal(rows[0]?.total_tokens, usage.totalTokens);
      // Run again (an operator retrying twice): still one row.
      const again = await outage.temporal.workflow.execute('billingWorkflow', {
        workflowId: `${billing.workflowId}-again`,
        taskQueue: outage.config.taskQueues.billing,
        args: [(await startedRecord(outage, billing.workflowId))!],
      });
      assert.deepEqual(again, { inserted: false });
      assert.equal((await ledgerRows(ledger, userId)).length, 1);
      await client.close();
    } finally {
      await ledger.end();
      await outage.stop();
      await pg.destroy();
    }
  });
});

/** The usage record a billing workflow was started with (its first history event). */
async function startedRecord(s: TestSystem, workflowId: string): Promise<UsageRecord | undefined> {
  const history = await s.temporal.workflow.getHandle(workflowId).fetchHistory();
  const payload =
    history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload?.data
    ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as UsageRecord)
    : undefined;
}
