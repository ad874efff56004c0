/** Helpers for the quota and billing tests: ledger rows, a user's Redis keys. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { billingWorkflowId } from '../contracts/billing';
import { usageKeys } from '../usage/counters';
import { eventually } from './poll';

export interface LedgerRow {
  user_id: string;
  request_id: string;
  session_id: string | null;
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  estimated: boolean;
  created_at: Date;
}

/** The user's usage rows, oldest first. */
export async function ledgerRows(db: Pool, userId: string): Promise<LedgerRow[]> {
  const { rows } = await db.query<LedgerRow>(
    'SELECT * FROM usage_records WHERE user_id = $1 ORDER BY created_at, request_id',
    [userId],
  );
  return rows;
}

/** Waits until the user's ledger holds `count` rows; returns them. */
export function waitForRows(
  db: Pool,
  userId: string,
  count: number,
  timeoutMs = 20_000,
): Promise<LedgerRow[]> {
  return eventually(
    `${count} usage row(s)`,
    async () => {
      const rows = await ledgerRows(db, userId);
      return rows.length === count && rows;
    },
    timeoutMs,
  );
}

/** Deletes every quota key of one user (what a Redis flush does to them), nothing else. */
export async function deleteUsageKeys(redis: Redis, userId: string): Promise<number> {
  const match = `${usageKeys(userId, new Date()).prefix}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** True when a billing workflow was ever started for the request. */
export async function billingStarted(
  temporal: Client,
  userId: string,
  requestId: string,
): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(billingWorkflowId(userId, requestId)).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** The current value of a prom-client counter with these labels (0 when unset). */
export async function counterValue(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
