/**
 * A circuit breaker shared by every worker through Redis: after `failureThreshold`
 * failures within `windowMs` it opens for `cooldownMs`, during which callers skip the
 * protected work; it closes by itself when the cool-down ends.
 *
 * With `reopenOnProbeFailure`, the calls after a cool-down are probes: the first of them
 * that fails opens the breaker again at once (instead of after another
 * `failureThreshold` failures), and a success closes it for good. An LLM provider that
 * hangs then costs one request its timeout per cool-down, not `failureThreshold`.
 */
import type { Redis } from 'ioredis';

export interface BreakerOptions {
  failureThreshold: number;
  windowMs: number;
  cooldownMs: number;
  reopenOnProbeFailure?: boolean;
}

// KEYS: failures, open, tripped. ARGV: threshold, windowMs, cooldownMs, probe ('1' = on).
// `tripped` outlives `open` by a window: a failure while it stands and `open` is gone is a
// failed probe.
const FAIL_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local probe = ARGV[4] == '1' and redis.call('EXISTS', KEYS[3]) == 1 and redis.call('EXISTS', KEYS[2]) == 0
if n >= tonumber(ARGV[1]) or probe then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  if ARGV[4] == '1' then redis.call('SET', KEYS[3], '1', 'PX', tonumber(ARGV[3]) + tonumber(ARGV[2])) end
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

export class CircuitBreaker {
  private readonly keys: { failures: string; open: string; tripped: string };

  constructor(
    private readonly redis: Redis,
    name: string,
    private readonly options: BreakerOptions,
  ) {
    this.keys = {
      failures: `breaker:{${name}}:failures`,
      open: `breaker:{${name}}:open`,
      tripped: `breaker:{${name}}:tripped`,
    };
  }

  /** True while the breaker is open (the protected work should be skipped). */
  async isOpen(): Promise<boolean> {
    return (await this.redis.exists(this.keys.open)) === 1;
  }

  /** Records a failure; returns true when this failure opened the breaker. */
  async recordFailure(): Promise<boolean> {
    const opened = await this.redis.eval(
      FAIL_SCRIPT,
      3,
      this.keys.failures,
      this.keys.open,
      this.keys.tripped,
      String(this.options.failureThreshold),
      String(this.options.windowMs),
      String(this.options.cooldownMs),
      this.options.reopenOnProbeFailure ? '1' : '0',
    );
    return opened === 1;
  }

  /** Records a success: the failure count starts over (and a probe closed the breaker). */
  async recordSuccess(): Promise<void> {
    await this.redis.del(this.keys.failures, this.keys.tripped);
  }
}
