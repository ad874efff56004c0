/**
 * A worker process that polls only the tools task queue, for tests that kill a worker
 * mid-tool: `node --import tsx testkit/tool-worker.ts`, configured by the usual
 * env vars; its argument is the test's unique queue names (JSON), and an optional
 * second one the queues to serve instead of `["tools"]` (JSON, e.g. `["chat"]`). Prints
 * `ready` on stdout once it polls.
 */
import { NativeConnection } from '@temporalio/worker';
import type { TaskQueues } from '../contracts/common';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { dataConverter } from '../lib/payload-codec';
import { createActivityDeps } from '../workers/deps';
import { createWorkers, runWorkers } from '../workers/worker';

async function main(): Promise<void> {
  const taskQueues = JSON.parse(process.argv[2] ?? '') as TaskQueues;
  const serve = JSON.parse(process.argv[3] ?? '["tools"]') as Array<keyof TaskQueues>;
  const config = { ...loadConfig(), taskQueues };
  const logger = createLogger({ service: 'test-tool-worker' }, 'error');
  const owned = createActivityDeps(config, logger, { mcp: serve.includes('tools') });
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  const workers = await createWorkers({
    connection,
    namespace: config.temporalNamespace,
    taskQueues,
    deps: owned.deps,
    dataConverter: dataConverter(config.payloadKeys),
    serve,
    workflowBundlePath: config.workflowBundlePath,
    // Tasks stuck on a killed worker's sticky queue move to the shared queue quickly.
    options: { shutdownGraceTime: '1s', stickyQueueScheduleToStartTimeout: '2s' },
  });
  const running = runWorkers(workers);
  process.stdout.write('ready\n');
  await running;
  await owned.close();
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
