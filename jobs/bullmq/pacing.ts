// Pacing and send budgets across every worker process, as Redis keys that expire.
import type { Redis } from 'ioredis';
import { RunAgain, type Pacing } from '../scheduler.js';

export function redisPacing(producer: Redis, prefix: string): Pacing {
  return {
    /** A key that expires when the next call may go. */
    async pace(key, everyMs) {
      const slot = `${prefix}:leash:pace:${key}`;
      if (await producer.set(slot, '1', 'PX', everyMs, 'NX')) return;
      const left = await producer.pttl(slot);
      throw new RunAgain(Date.now() + Math.max(left, 20), `pacing ${key}`);
    },
    /** A counter per key and minute. Over it, the call waits for the next minute (spread over a
     *  second, so the waiting sends do not stampede). */
    async budget(key, perMinute) {
      const minute = Math.floor(Date.now() / 60_000);
      const slot = `${prefix}:leash:budget:${key}:${minute}`;
      const [[, used]] = (await producer.multi().incr(slot).pexpire(slot, 61_000).exec()) as [[Error | null, number]];
      if (used <= perMinute) return;
      throw new RunAgain(
        (minute + 1) * 60_000 + Math.floor(Math.random() * 1_000),
        `send budget of ${perMinute} a minute used up for ${key}`,
      );
    },
  };
}
