/** The Postgres pool. */
import { Pool, type PoolClient } from 'pg';

/** Creates a pool with bounded waits, so a down database answers with an error, not a hang. */
export function createPool(databaseUrl: string, max = 10): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 10_000,
  });
  // An idle client that loses its server emits 'error' on the pool; without a
  // listener that would crash the process.
  pool.on('error', () => undefined);
  return pool;
}

export type { Pool };

/** A pool or a checked-out client (e.g. inside a transaction): what a query needs. */
export type Queryable = Pick<Pool | PoolClient, 'query'>;
