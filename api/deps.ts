/** What the API needs: its connections, config and the relay. */
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { ChatWorkflowInput } from '../contracts/chat';
import type { ApiKeyStore } from '../users/api-keys';
import type { Config } from '../lib/config';
import type { EventLog } from '../store/event-log';
import type { Logger } from '../lib/logger';
import type { McpCatalog } from '../tools/mcp/catalog';
import type { UserService } from '../users/user-service';
import type { AuthUser } from './auth';
import type { Admission } from './admission';
import type { StreamRelay } from './relay';

export interface ApiDeps {
  config: Readonly<Config>;
  db: Pool;
  redis: Redis;
  events: EventLog;
  relay: StreamRelay;
  /** Refuses new chat requests while this process is past its capacity. */
  admission: Admission;
  temporal: Client;
  logger: Logger;
  users: KnownUsers;
  /** API keys: create, list, revoke, verify (users/api-keys.ts). */
  apiKeys: ApiKeyStore;
  /** Cached user reads and profile updates (users/user-service.ts). */
  userService: UserService;
  /** The MCP servers' tools as the tools workers published them (`GET /v1/tools`). */
  mcp: McpCatalog;
  /** True when a chat worker shares `temporal`'s connection: chat starts request eager start. */
  eagerStart?: boolean;
  /**
   * Runs a new chat request: `duplicate` when one with the same id already exists.
   * Default: starts its chat workflow on Temporal. Benchmarks swap in an in-process
   * runner (bench/in-process-runner.ts) to measure what the orchestration costs.
   */
  chatRunner?: (input: ChatWorkflowInput) => Promise<'started' | 'duplicate'>;
}

const MAX_KNOWN = 100_000;

/**
 * Creates users on first authenticated use, remembering in this process which users
 * (with which plan) already exist so a request costs no extra database write.
 */
export class KnownUsers {
  private readonly known = new Map<string, string>();

  constructor(private readonly userService: UserService) {}

  async ensure(user: AuthUser): Promise<void> {
    if (this.known.get(user.userId) === user.plan) return;
    await this.userService.ensure({
      id: user.userId,
      username: user.name ?? `user-${user.userId.slice(0, 8)}`,
      plan: user.plan,
    });
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(user.userId, user.plan);
  }
}
