/**
 * Applies the pending schema migrations to `DATABASE_URL` (creating the database if
 * missing) and exits: the compose stack's one-shot `migrate` service runs it as
 * `node dist/scripts/migrate.js` before the API and workers start. `npm start` and
 * `npm test` migrate by themselves.
 */
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { migrate } from '../store/migrate';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'migrate' }, config.logLevel);
  const applied = await migrate(config.databaseUrl);
  logger.info(applied.length > 0 ? 'migrations applied' : 'schema up to date', { applied });
}

main().catch((err: unknown) => {
  createLogger({ service: 'migrate' }).error('migration failed', { err });
  process.exit(1);
});
