/**
 * All activities, built by one factory over their dependencies (Temporal's
 * activities-dependency-injection pattern). Workflows type their proxies with
 * `ReturnType<typeof createActivities>`.
 */
import { createChatActivities } from './chat';
import type { ActivityDeps } from './deps';
import { createLlmActivities } from './llm';

export type { ActivityDeps } from './deps';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createChatActivities(deps),
    ...createLlmActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
