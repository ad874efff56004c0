/**
 * Service management shared by `npm start` and `npm test`: make sure Temporal, Postgres
 * (migrated) and Redis answer, starting local ones when they do not, and stop exactly
 * what was started. The pieces live in `scripts/services/`.
 */
export { describeExit, spawnChild, stopAll, track, waitUntil } from './services/child';
export type { ExitInfo, Started } from './services/child';
export { createLogger, maskUrl, urlPassword } from './services/log';
export type { Logger } from './services/log';
export { ensurePostgres, postgresAnswers } from './services/postgres';
export { ensureRedis, redisAnswers } from './services/redis';
export {
  SEARCH_ATTRIBUTES,
  TEMPORAL_CLI_VERSION,
  ensureTemporal,
  ensureTemporalBinary,
  findTemporalBinary,
  temporalAnswers,
  temporalUiPort,
} from './services/temporal';
export type { TemporalOptions } from './services/temporal';
