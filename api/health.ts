/** Real checks of the services the API depends on, each bounded in time. */
import type { ApiDeps } from './deps';

export type CheckState = 'ok' | 'down';

export interface Health {
  status: 'ok' | 'down';
  checks: { temporal: CheckState; redis: CheckState; postgres: CheckState };
}

const CHECK_TIMEOUT_MS = 1500;

async function check(probe: () => Promise<unknown>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Checks Temporal, Redis and Postgres in parallel. */
export async function checkHealth(deps: ApiDeps): Promise<Health> {
  const [temporal, redis, postgres] = await Promise.all([
    check(() =>
      deps.temporal.connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () =>
        deps.temporal.connection.workflowService.getSystemInfo({}),
      ),
    ),
    check(() => deps.redis.ping()),
    check(() => deps.db.query('SELECT 1')),
  ]);
  const checks = { temporal, redis, postgres };
  const status = Object.values(checks).every((c) => c === 'ok') ? 'ok' : 'down';
  return { status, checks };
}
