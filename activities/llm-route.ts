/**
 * Which providers one LLM call tries, in which order (docs/API.md "Models and
 * providers"): the model's route, less the providers whose circuit breaker is open. The
 * breakers live in Redis (lib/circuit-breaker.ts), so every worker skips a failing
 * provider together instead of each request waiting out its timeout; one opens after
 * `failureThreshold` failures within a minute; after its cool-down the next call probes
 * the provider: failing, it opens the breaker again at once; answering, it closes it.
 *
 * A route of one step (every model without `LLM_CONFIG`) has nothing to skip to: it
 * costs no Redis call and keeps no breaker, as before routes existed.
 */
import type { Redis } from 'ioredis';
import { CircuitBreaker, type BreakerOptions } from '../lib/circuit-breaker';
import type { Logger } from '../lib/logger';
import { llmRequestsTotal } from '../lib/metrics';
import { routeOf, type ModelCatalog, type RouteTarget } from '../models/catalog';
import { modelLabel } from './quota';

/** How a call to one provider ended (`outcome` of `llm_requests_total`). */
export type TargetOutcome = 'ok' | 'failed' | 'timeout' | 'cut' | 'error' | 'skipped';

export interface RoutePlan {
  /** Tried in this order. */
  targets: readonly RouteTarget[];
  /** Left out: their breaker is open. */
  skipped: readonly RouteTarget[];
}

export class RoutePlanner {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(
    private readonly catalog: ModelCatalog,
    /** Read only when a route has two steps or more (one-step routes never touch Redis). */
    private readonly redis: () => Redis,
    private readonly breakerOptions: BreakerOptions,
    private readonly logger: Logger,
  ) {}

  /** The `model` label of a request's model: configured names, or a bounded client-given one. */
  label(model: string): string {
    return this.catalog.configured ? model : modelLabel(model);
  }

  /**
   * The targets to try: the route without providers whose breaker is open, or the whole
   * route when every one is open (a call that can only fail anyway probes them instead).
   * Redis unreachable: the breaker counts as closed.
   */
  async plan(model: string): Promise<RoutePlan> {
    const route = routeOf(this.catalog, model);
    if (route.length <= 1) return { targets: route, skipped: [] };
    const open = await Promise.all(route.map((t) => this.breaker(t).isOpen().catch(() => false)));
    const targets = route.filter((_, i) => !open[i]);
    if (targets.length === 0) return { targets: route, skipped: [] };
    const skipped = route.filter((_, i) => open[i]);
    for (const t of skipped) this.count(t, model, 'skipped');
    return { targets, skipped };
  }

  /** Counts a call's outcome; failures feed the provider's breaker (when the route has a choice). */
  async ended(target: RouteTarget, model: string, outcome: TargetOutcome, routeLength: number): Promise<void> {
    this.count(target, model, outcome);
    if (routeLength <= 1) return;
    const breaker = this.breaker(target);
    if (outcome === 'ok') {
      // Off the reply's path: the next failure count starts over.
      breaker.recordSuccess().catch(() => undefined);
      return;
    }
    if (outcome === 'error') return; // the request's fault (e.g. 400), not the provider's
    const opened = await breaker.recordFailure().catch(() => false);
    if (opened) this.logger.warn('LLM provider skipped for a cool-down', { provider: target.provider.name });
  }

  private count(target: RouteTarget, model: string, outcome: TargetOutcome): void {
    llmRequestsTotal.inc({ provider: target.provider.name, model: this.label(model), outcome });
  }

  private breaker(target: RouteTarget): CircuitBreaker {
    const name = target.provider.name;
    let b = this.breakers.get(name);
    if (!b) {
      // After a cool-down one failed probe reopens it: a hanging provider costs one request its timeout.
      const options = { ...this.breakerOptions, reopenOnProbeFailure: true };
      this.breakers.set(name, (b = new CircuitBreaker(this.redis(), `llm-provider:${name}`, options)));
    }
    return b;
  }
}
