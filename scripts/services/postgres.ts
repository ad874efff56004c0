/**
 * Postgres: reuse the server in DATABASE_URL, or start (installing if needed) the
 * local Debian cluster; then create the database and apply migrations.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { migrate } from '../../store/migrate';
import { runCommand, track, waitUntil, type ExitInfo, type Started } from './child';
import { maskUrl, type Logger } from './log';
import { aptInstall, isLocalHost, tail } from './system';

const PG_ETC = '/etc/postgresql';
const PG_CTL = 'pg_ctlcluster';

/** True when a Postgres server answers at `databaseUrl` (even if it refuses us). */
export async function postgresAnswers(databaseUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (err) {
    // A SQLSTATE (missing database, bad password...) means the server is there.
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes sure Postgres answers at `databaseUrl` and its schema is migrated. Returns the
 * cluster it started (stopping it stops the cluster), or null when it was running.
 */
export async function ensurePostgres(
  databaseUrl: string,
  opts: { log: Logger },
): Promise<Started | null> {
  const { log } = opts;
  let started: Started | null = null;
  if (await postgresAnswers(databaseUrl)) {
    log.info(`Postgres: reusing ${maskUrl(databaseUrl)}`);
  } else {
    const host = new URL(databaseUrl).hostname;
    if (!isLocalHost(host)) {
      throw new Error(
        `Postgres does not answer at ${maskUrl(databaseUrl)}, and that is not this machine`,
      );
    }
    started = await startLocalCluster(log);
    await waitUntil(() => postgresAnswers(databaseUrl), { what: 'Postgres', timeoutMs: 30_000 });
  }
  const applied = await migrate(databaseUrl);
  log.info(
    applied.length > 0
      ? `Postgres: applied migrations ${applied.join(', ')}`
      : 'Postgres: schema up to date',
  );
  return started;
}

interface Cluster {
  version: string;
  name: string;
}

/** Debian clusters under /etc/postgresql, newest version first. */
function listClusters(): Cluster[] {
  if (!existsSync(PG_ETC)) return [];
  return readdirSync(PG_ETC)
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .flatMap((version) =>
      readdirSync(path.join(PG_ETC, version))
        .filter((name) => existsSync(path.join(PG_ETC, version, name, 'postgresql.conf')))
        .map((name) => ({ version, name })),
    );
}

async function startLocalCluster(log: Logger): Promise<Started> {
  let clusters = listClusters();
  let installed = false;
  if (clusters.length === 0) {
    await aptInstall(['postgresql'], log);
    installed = true;
    clusters = listClusters();
    if (clusters.length === 0)
      throw new Error(`installed postgresql but found no cluster in ${PG_ETC}`);
  }
  const cluster = clusters.find((c) => c.name === 'main') ?? clusters[0]!;
  if (installed) trustLocalConnections(cluster, log);
  log.info(`Postgres: starting cluster ${cluster.version}/${cluster.name} (${PG_CTL} start)`);
  const result = await pgCtl(cluster, installed ? 'restart' : 'start');
  if (result.code !== 0) {
    throw new Error(
      `${PG_CTL} ${cluster.version} ${cluster.name} start failed:\n${tail(result.output)}`,
    );
  }
  let stopped = false;
  return track({
    name: `postgres ${cluster.version}/${cluster.name}`,
    exited: new Promise<ExitInfo>(() => undefined), // a system service: not our child
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pgCtl(cluster, 'stop');
    },
  });
}

function pgCtl(cluster: Cluster, action: string): ReturnType<typeof runCommand> {
  return runCommand(PG_CTL, ['--skip-systemctl-redirect', cluster.version, cluster.name, action]);
}

/**
 * A freshly installed Debian cluster asks for a password over TCP; the local default
 * URL has none. Only for a cluster this script installed itself: trust 127.0.0.1/::1.
 */
function trustLocalConnections(cluster: Cluster, log: Logger): void {
  const file = path.join(PG_ETC, cluster.version, cluster.name, 'pg_hba.conf');
  const marker = '# durable-chat: trust local TCP connections (dev machine)';
  const current = readFileSync(file, 'utf8');
  if (current.includes(marker)) return;
  const lines = [marker, 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''];
  writeFileSync(file, `${lines.join('\n')}${current}`);
  log.info(
    `Postgres: ${file} now trusts local TCP connections (the dev default URL has no password)`,
  );
}
