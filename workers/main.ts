/** Worker process entry point: `node --import tsx workers/main.ts`. */
import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../lib/config';
import { dataConverter } from '../lib/payload-codec';
import { createLogger } from '../lib/logger';
import { setMetricsEnabled } from '../lib/metrics';
import { createActivityDeps } from './deps';
import { startWorkerMetrics } from './metrics-server';
import { createWorkers, runWorkers } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'worker' }, config.logLevel);
  setMetricsEnabled(config.metricsEnabled);
  for (const warning of config.warnings) logger.warn(warning);
  // Before the first connection: the Temporal Runtime is created once per process.
  const metrics = await startWorkerMetrics(config);
  const owned = createActivityDeps(config, logger, { mcp: config.workerTaskQueues.includes('tools') });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const workers = await createWorkers({
    connection,
    namespace: config.temporalNamespace,
    taskQueues: config.taskQueues,
    deps: owned.deps,
    dataConverter: dataConverter(config.payloadKeys),
    workflowBundlePath: config.workflowBundlePath,
    llmActivitySlots: config.llmActivitySlots,
    workflowCacheSize: config.workflowCacheSize,
    serve: config.workerTaskQueues,
  });
  logger.info('worker started', {
    taskQueues: config.workerTaskQueues.map((q) => config.taskQueues[q]),
    metricsPort: metrics?.port,
    temporalMetricsPort: config.temporalMetricsPort || undefined,
  });
  // Worker.run() handles SIGINT/SIGTERM itself: it drains, then resolves.
  await runWorkers(workers);
  await owned.close();
  await connection.close();
  await metrics?.close();
  logger.info('worker stopped');
}

main().catch((err: unknown) => {
  createLogger({ service: 'worker' }).error('worker failed', { err });
  process.exit(1);
});
