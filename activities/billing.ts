/**
 * The billing activity: writes one request's usage row to the Postgres ledger.
 * Idempotent (`ON CONFLICT DO NOTHING` on (user, request)), so the billing workflow can
 * retry it without limit while Postgres is down, and ops can re-run a failed billing
 * workflow, without ever adding a second row.
 */
import { Context } from '@temporalio/activity';
import type { BillingResult, UsageRecord } from '../contracts/billing';
import { FAILURE_TYPES, failure } from '../contracts/errors';
import { billingFailuresTotal } from '../lib/metrics';
import { insertUsage } from '../usage/ledger';
import type { ActivityDeps } from './deps';

/** SQLSTATE classes no retry can fix: data exceptions (22) and integrity violations (23). */
const PERMANENT_SQLSTATE = /^2[23]/;

/** Creates the billing activity over its dependencies. */
export function createBillingActivities(deps: ActivityDeps) {
  /** Inserts the usage row (once); retryable on any failure but a bad record. */
  async function recordUsage(record: UsageRecord): Promise<BillingResult> {
    try {
      return { inserted: await insertUsage(deps.db, record) };
    } catch (err) {
      billingFailuresTotal.inc();
      const code = (err as { code?: unknown }).code;
      const message = err instanceof Error ? err.message : String(err);
      const attempt = Context.current().info.attempt;
      deps.logger.warn('billing insert failed', { attempt, code, message });
      if (typeof code === 'string' && PERMANENT_SQLSTATE.test(code)) {
        throw failure(
          FAILURE_TYPES.InvalidBillingRecord,
          `billing record refused by the database (${code}): ${message}`,
          { nonRetryable: true },
        );
      }
      throw failure(FAILURE_TYPES.BillingUnavailable, `billing insert failed: ${message}`);
    }
  }

  return { recordUsage };
}
