/**
 * Schema migrations: creates the database if missing, then applies
 * `db/migrations/NNN_*.sql` in order, once each, safe to run from several processes
 * at the same time (start, tests, workers booting together).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, type DatabaseError } from 'pg';

/** Serialises migrators on one database (advisory locks are per database). */
const MIGRATE_LOCK = 'durable-chat.migrate';
/** Serialises CREATE DATABASE on one server. */
const CREATE_DB_LOCK = 'durable-chat.create-database';

/** One migration file. */
export interface Migration {
  /** The file name without `.sql`, e.g. `001_init`; what `schema_migrations` records. */
  version: string;
  file: string;
}

/** The directory holding the `NNN_*.sql` files. */
export function resolveMigrationsDir(): string {
  return path.join(__dirname, '..', 'db', 'migrations');
}

/** The migrations in `dir`, in the order they apply; throws on a duplicated number. */
export function listMigrations(dir: string = resolveMigrationsDir()): Migration[] {
  const found = readdirSync(dir)
    .map((name) => /^(\d+)_.+\.sql$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ n: Number(m[1]), name: m[0] }))
    .sort((a, b) => a.n - b.n || a.name.localeCompare(b.name));
  found.forEach((m, i) => {
    if (i > 0 && found[i - 1]?.n === m.n) {
      throw new Error(`two migrations share number ${m.n} in ${dir}`);
    }
  });
  return found.map((m) => ({
    version: m.name.slice(0, -'.sql'.length),
    file: path.join(dir, m.name),
  }));
}

/**
 * Creates the database named in `databaseUrl` if it does not exist, then applies the
 * pending migrations, each in its own transaction. Returns the versions it applied
 * (empty when the schema was already up to date).
 */
export async function migrate(
  databaseUrl: string,
  options: { dir?: string } = {},
): Promise<string[]> {
  const migrations = listMigrations(options.dir);
  await ensureDatabase(databaseUrl);
  return withClient(databaseUrl, async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATE_LOCK]);
    try {
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version    text PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const { rows } = await client.query<{ version: string }>(
        'SELECT version FROM schema_migrations',
      );
      const done = new Set(rows.map((r) => r.version));
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await applyOne(client, m);
        applied.push(m.version);
      }
      return applied;
    } finally {
      // Closing the session releases the lock anyway; don't mask the real error.
      await client
        .query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATE_LOCK])
        .catch(() => undefined);
    }
  });
}

async function applyOne(client: Client, m: Migration): Promise<void> {
  const sql = readFileSync(m.file, 'utf8');
  await client.query('BEGIN');
  try {
    await client.query(sql);
    await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [
      m.version,
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new Error(`migration ${m.version} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Creates the URL's database through the `postgres` maintenance database if missing. */
async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (name === '' || name === 'postgres') return;
  try {
    await withClient(databaseUrl, () => Promise.resolve());
    return;
  } catch (err) {
    if ((err as DatabaseError).code !== '3D000') throw err; // 3D000: database does not exist
  }
  url.pathname = '/postgres';
  await withClient(url.toString(), async (admin) => {
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [CREATE_DB_LOCK]);
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      // Another creator without our lock (e.g. an older tool) may have won the race.
      const code = (err as DatabaseError).code;
      if (code !== '42P04' && code !== '23505') throw err;
    } finally {
      await admin
        .query('SELECT pg_advisory_unlock(hashtext($1))', [CREATE_DB_LOCK])
        .catch(() => undefined);
    }
  });
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // Errors surface through the failing query; without a listener a dropped
  // connection would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
