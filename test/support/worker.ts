// A real worker for one test: its own BullMQ prefix (so tests never share queues) and cleanup that
// deletes only that prefix's keys (other test files share this Redis).
import { randomBytes } from 'node:crypto';
import { afterEach } from 'vitest';
import { Redis } from 'ioredis';
import { startWorker, type RunningWorker } from '../../src/app.js';
import type { Deps } from '../../src/deps.js';
import type { TestApp } from './app.js';

export interface TestWorker {
  w: RunningWorker;
  deps: Deps;
  prefix: string;
  /** Deletes every Redis key of this worker's prefix (Redis "forgets"); returns how many. */
  forget(): Promise<number>;
  stop(): Promise<void>;
}

/** Workers for one test file: each one started is stopped after its test (last first). */
export function useWorkers(
  t: TestApp,
  defaults: Partial<Deps['config']> = {},
): (config?: Partial<Deps['config']>) => Promise<TestWorker> {
  const running: TestWorker[] = [];
  afterEach(async () => {
    while (running.length) await running.pop()!.stop();
  });
  return async (config = {}) => {
    const w = await startTestWorker(t, { ...defaults, ...config });
    running.push(w);
    return w;
  };
}

export async function startTestWorker(t: TestApp, config: Partial<Deps['config']> = {}): Promise<TestWorker> {
  const prefix = `leash-test-${randomBytes(4).toString('hex')}`;
  const deps: Deps = { ...t.deps, config: { ...t.config, queuePrefix: prefix, sweepIntervalMs: 60_000, ...config } };
  const w = await startWorker(deps, t.channels);
  const forget = async () => {
    // Single mode has no Redis: its jobs live in the process and go with it.
    if (!deps.config.redisUrl) return 0;
    const redis = new Redis(deps.config.redisUrl);
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      return keys.length;
    } finally {
      redis.disconnect();
    }
  };
  return {
    w,
    deps,
    prefix,
    forget,
    async stop() {
      await w.close();
      await forget();
    },
  };
}
