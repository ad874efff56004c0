/** API process entry point: `node --import tsx api/main.ts`. */
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { setMetricsEnabled } from '../lib/metrics';
import { AesGcmPayloadCodec } from '../lib/payload-codec';
import { startCodecServer } from './codec-server';
import { startApiServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ service: 'api' }, config.logLevel);
  setMetricsEnabled(config.metricsEnabled);
  for (const warning of config.warnings) logger.warn(warning);
  if (config.jwtSecretIsDev) logger.warn('JWT_SECRET is not set: using the dev secret');
  const api = await startApiServer(config, logger);
  logger.info('api listening', { port: api.port });
  const codec =
    config.payloadKeys.length > 0 && config.codecServer.port > 0
      ? await startCodecServer({
          codec: new AesGcmPayloadCodec(config.payloadKeys),
          ...config.codecServer,
        })
      : undefined;
  if (codec) logger.info('codec server listening', { url: `http://127.0.0.1:${codec.port}` });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    logger.info('api stopping');
    Promise.all([api.close(), codec?.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  createLogger({ service: 'api' }).error('api failed to start', { err });
  process.exit(1);
});
