/**
 * billingWorkflow: writes one request's usage to the Postgres ledger, however long
 * Postgres takes to come back. Its id is derived from the request
 * (`billingWorkflowId`), and the insert is idempotent, so nothing billed is ever lost
 * or counted twice: a failed run (terminated, or a record the database refused) can be
 * re-run with the same id and input (`npm run ops -- billing:retry`).
 */
import { proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BillingResult, UsageRecord } from '../contracts/billing';
import { FAILURE_TYPES } from '../contracts/errors';

/** The backoff ceiling while Postgres is down. */
export const BILLING_MAX_RETRY_INTERVAL = '30s';

/**
 * The insert runs as a local activity: one short idempotent query, so the whole run is
 * one workflow task instead of three server round trips (schedule, activity task,
 * completion): about twice the records per second on the same Temporal server.
 * Unlimited attempts (no `maximumAttempts`, no schedule-to-close), 1 s doubling to
 * 30 s apart; past the SDK's local retry threshold the backoff becomes a durable
 * timer, so a long Postgres outage survives worker restarts. Only a record the
 * database refuses outright (`InvalidBillingRecord`) fails the run.
 */
const billing = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: BILLING_MAX_RETRY_INTERVAL,
    nonRetryableErrorTypes: [FAILURE_TYPES.InvalidBillingRecord],
  },
});

export async function billingWorkflow(record: UsageRecord): Promise<BillingResult> {
  return await billing.recordUsage(record);
}
