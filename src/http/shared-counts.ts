// The rate limiter's counts (a store for @fastify/rate-limit): each request is counted in this
// process at once, and every FLUSH_MS what this process counted since is added to Redis and the
// total of every process read back. A request therefore costs no Redis round trip (one per request
// was most of the limiter's cost: bench/changes.md), a limit is exact within a process, and across
// processes it sees the others' requests at most a flush late. With Redis away each process still
// limits what it sees itself, and catches up when Redis is back.
// Windows are clock-aligned (minute n is [n·60 s, (n+1)·60 s)), so every process counts the same one.
import type { Redis } from 'ioredis';

/** How late one process may see another's requests. */
export const FLUSH_MS = 100;

interface Window {
  /** Which window (time / window length) these counts are for. */
  window: number;
  /** Requests counted here in the window, and how many of them Redis has. */
  counted: number;
  flushed: number;
  /** The other processes' requests in the window, as Redis last said. */
  others: number;
}

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

/** What @fastify/rate-limit constructs: the same counts for every route (the limits are per key
 *  and per address, whatever the route). */
export interface CountStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void;
  child(): CountStore;
}

export class SharedCounts implements CountStore {
  private readonly counts = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private closed = false;

  constructor(
    private readonly redis: Redis | undefined,
    private readonly namespace: string,
    private readonly timeWindow: number,
  ) {}

  incr(key: string, cb: Callback): void {
    const now = Date.now();
    const window = Math.floor(now / this.timeWindow);
    let w = this.counts.get(key);
    if (!w || w.window !== window) this.counts.set(key, (w = { window, counted: 0, flushed: 0, others: 0 }));
    w.counted++;
    this.schedule();
    cb(null, { current: w.counted + w.others, ttl: (window + 1) * this.timeWindow - now });
  }

  child(): CountStore {
    return this;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (!this.redis || this.timer || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  /** Adds what was counted here to Redis and reads back every process's total, in one pipeline. */
  async flush(): Promise<void> {
    this.timer = undefined;
    if (!this.redis || this.flushing) return this.schedule();
    this.flushing = true;
    const current = Math.floor(Date.now() / this.timeWindow);
    const sent: [Window, number][] = [];
    const pipeline = this.redis.pipeline();
    for (const [key, w] of this.counts) {
      // A past window is of no use to anyone now.
      if (w.window < current) {
        this.counts.delete(key);
        continue;
      }
      const add = w.counted - w.flushed;
      // Nothing new here: the others' count is refreshed when this process counts the key again.
      if (add === 0) continue;
      const slot = `${this.namespace}${key}:${w.window}`;
      pipeline.incrby(slot, add).pexpire(slot, 2 * this.timeWindow);
      sent.push([w, add]);
    }
    try {
      if (sent.length === 0) return;
      const replies = (await pipeline.exec()) ?? [];
      sent.forEach(([w, add], i) => {
        const [err, total] = replies[2 * i] ?? [];
        if (err || typeof total !== 'number') return;
        w.flushed += add;
        w.others = Math.max(0, total - w.flushed);
      });
    } catch {
      // Redis away: the counts stay here (this process keeps limiting on them) and go at the next flush.
    } finally {
      this.flushing = false;
      if (this.counts.size && sent.length) this.schedule();
    }
  }
}
