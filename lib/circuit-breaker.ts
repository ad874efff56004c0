/**
 * A circuit breaker shared by every worker through Redis: after `failureThreshold`
 * failures within `windowMs` it opens for `cooldownMs`, during which callers skip the
 * protected work; it closes by itself when the cool-down ends.
 */
import type { Redis } from 'ioredis';

export interface BreakerOptions {
  failureThreshold: number;
  windowMs: number;
  cooldownMs: number;
}

const FAIL_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

export class CircuitBreaker {
  private readonly keys: { failures: string; open: string };

  constructor(
    private readonly redis: Redis,
    name: string,
    private readonly options: BreakerOptions,
  ) {
    this.keys = { failures: `breaker:{${name}}:failures`, open: `breaker:{${name}}:open` };
  }

  /** True while the breaker is open (the protected work should be skipped). */
  async isOpen(): Promise<boolean> {
    return (await this.redis.exists(this.keys.open)) === 1;
  }

  /** Records a failure; returns true when this failure opened the breaker. */
  async recordFailure(): Promise<boolean> {
    const opened = await this.redis.eval(
      FAIL_SCRIPT,
      2,
      this.keys.failures,
      this.keys.open,
      String(this.options.failureThreshold),
      String(this.options.windowMs),
      String(this.options.cooldownMs),
    );
    return opened === 1;
  }

  /** Records a success: the failure count starts over. */
  async recordSuccess(): Promise<void> {
    await this.redis.del(this.keys.failures);
  }
}
