// Pacing and send budgets for one process: the same rules as the Redis ones (jobs/bullmq/pacing.ts),
// kept in memory because no other process sends.
import { RunAgain, type Pacing } from '../scheduler.js';

export function memoryPacing(): Pacing {
  const nextAt = new Map<string, number>();
  const used = new Map<string, { minute: number; count: number }>();
  return {
    async pace(key, everyMs) {
      const now = Date.now();
      const next = nextAt.get(key) ?? 0;
      if (next > now) throw new RunAgain(next, `pacing ${key}`);
      nextAt.set(key, now + everyMs);
      // Forget slots long past, so the map holds only destinations in use.
      if (nextAt.size > 10_000) for (const [k, at] of nextAt) if (at < now) nextAt.delete(k);
    },
    async budget(key, perMinute) {
      const minute = Math.floor(Date.now() / 60_000);
      const slot = used.get(key);
      const count = slot?.minute === minute ? slot.count + 1 : 1;
      used.set(key, { minute, count });
      if (count <= perMinute) return;
      throw new RunAgain(
        (minute + 1) * 60_000 + Math.floor(Math.random() * 1_000),
        `send budget of ${perMinute} a minute used up for ${key}`,
      );
    },
  };
}
