/**
 * The API server: Express for HTTP, `ws` for `/v1/ws` on the same port.
 *
 * WebSocket clients are authenticated on the HTTP `upgrade` event and refused before
 * any upgrade (api/upgrade.ts). Idle sockets are pinged and dropped when a pong does not
 * come back.
 */
import { McpCatalog } from '../tools/mcp/catalog';
import http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../lib/config';
import { createPool } from '../store/db';
import { EventLog } from '../store/event-log';
import { dataConverter } from '../lib/payload-codec';
import type { Logger } from '../lib/logger';
import { createCacheRedis, createRedis } from '../store/redis';
import { UserService } from '../users/user-service';
import { createApp } from './app';
import { ApiKeyStore } from '../users/api-keys';
import { KnownUsers, type ApiDeps } from './deps';
import { StreamRelay } from './relay';
import { Admission } from './admission';
import { ChatConnection } from './ws';
import { upgradeHandler } from './upgrade';
import { metricsRegistry } from '../lib/metrics';
import { startEmbeddedChatWorker } from '../workers/embedded';

export { WS_PATH } from './upgrade';

export interface ApiServer {
  server: http.Server;
  /** The bound port (useful with PORT=0). */
  port: number;
  deps: ApiDeps;
  close(): Promise<void>;
}

/** Opens the API's connections and starts listening on `config.port`. */
export async function startApiServer(config: Readonly<Config>, logger: Logger): Promise<ApiServer> {
  const db = createPool(config.databaseUrl);
  const redis = createRedis(config.redisUrl, 'api');
  const relayReader = createRedis(config.redisUrl, 'api-relay');
  const cacheRedis = createCacheRedis(config.redisUrl, 'api-cache', config.cacheCommandTimeoutMs);
  const userService = new UserService(db, cacheRedis, {
    logger,
    cache: { ttlMs: config.userCacheTtlSeconds * 1000 },
  });
  // With a chat worker in this process, chat workflows start eagerly on it
  // (workers/embedded.ts); otherwise a plain client.
  const embedded = config.apiChatWorker ? await startEmbeddedChatWorker(config, logger) : undefined;
  const connection = embedded
    ? undefined
    : await Connection.connect({ address: config.temporalAddress });
  const temporal =
    embedded?.client ??
    new Client({
      connection,
      namespace: config.temporalNamespace,
      dataConverter: dataConverter(config.payloadKeys),
    });
  const relay = new StreamRelay(relayReader, redis, logger);
  const admission = new Admission(config.admission, () => relay.followedStreams);
  // Hears API key revocations from every API process (subscriber mode: its own connection).
  const keySubscriber = createRedis(config.redisUrl, 'api-keys-sub');
  const apiKeys = new ApiKeyStore(db, redis, logger, keySubscriber);
  await apiKeys.start();
  const deps: ApiDeps = {
    config,
    db,
    redis,
    events: new EventLog(redis, config.eventTtlSeconds),
    relay,
    admission,
    temporal,
    logger,
    users: new KnownUsers(userService),
    userService,
    apiKeys,
    mcp: new McpCatalog(redis, config.taskQueues.tools, config.mcpServers),
    eagerStart: embedded !== undefined,
  };
  relay.start();

  const app = createApp(deps, async () => ({
    contentType: metricsRegistry.contentType,
    body: await metricsRegistry.metrics(),
  }));
  const server = http.createServer(app);
  // Frames up to 16x the limit are read and answered `payload_too_large` (the socket
  // stays usable); anything larger closes the socket with 1009.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayloadBytes * 16 });
  const alive = new WeakMap<WebSocket, boolean>();

  server.on(
    'upgrade',
    upgradeHandler(deps, wss, (ws, user) => {
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      new ChatConnection(ws, user, deps);
    }),
  );

  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, config.wsPingIntervalMs);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;

  return {
    server,
    port,
    deps,
    async close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await relay.close();
      admission.close();
      await apiKeys.close();
      keySubscriber.disconnect();
      relayReader.disconnect();
      redis.disconnect();
      userService.close();
      cacheRedis.disconnect();
      await connection?.close();
      await embedded?.stop();
      await db.end();
    },
  };
}
