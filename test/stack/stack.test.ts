/**
 * store/migrate against the real local Postgres, on throwaway databases: it creates the
 * database, applies every migration once, is a no-op the second time, and two
 * concurrent callers on a fresh database both succeed without applying anything twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Client } from 'pg';
import { loadConfig } from '../../lib/config';
import { listMigrations, migrate } from '../../store/migrate';

/** Any database on the test Postgres server: the tests create and drop their own. */
const SERVER_URL = loadConfig().databaseUrl;
const created: string[] = [];

/** A URL for a database that does not exist yet (dropped after the tests). */
function freshDatabaseUrl(): string {
  const name = `chat_migrate_${randomBytes(6).toString('hex')}`;
  created.push(name);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function query<T extends object>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

after(async () => {
  const admin = new URL(SERVER_URL);
  admin.pathname = '/postgres';
  for (const name of created) {
    await query(admin.toString(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
});

const allVersions = listMigrations().map((m) => m.version);

void describe('migrate', () => {
  void it('creates the database and the schema, then has nothing left to apply', async () => {
    const url = freshDatabaseUrl();
    assert.deepEqual(await migrate(url), allVersions);

    const tables = await query<{ name: string }>(
      url,
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    const names = tables.map((t) => t.name);
    for (const table of [
      'users',
      'push_preferences',
      'chat_sessions',
      'chat_messages',
      'schema_migrations',
    ]) {
      assert.ok(names.includes(table), `table ${table} exists`);
    }

    assert.deepEqual(await migrate(url), []);
    const recorded = await query<{ version: string }>(
      url,
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      recorded.map((r) => r.version),
      allVersions,
    );
  });

  void it('lets concurrent callers on a fresh database both succeed, applying each migration once', async () => {
    const url = freshDatabaseUrl();
    const results = await Promise.all([migrate(url), migrate(url), migrate(url)]);

    assert.deepEqual(results.flat().sort(), [...allVersions].sort());
    const recorded = await query<{ version: string; n: string }>(
      url,
      'SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
    );
    assert.deepEqual(
      recorded.map((r) => [r.version, Number(r.n)]),
      allVersions.map((v) => [v, 1]),
    );
  });
});
