// BullMQ wiring shared by the worker and anything that enqueues. Redis is only a scheduler here:
// every job can be rebuilt from Postgres (see jobs/relay-outbox.ts).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from './config.js';

export const EVENTS_QUEUE = 'events';

/** Retry delays of contract §5: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; ±10 % jitter. */
export const RETRY_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const EVENT_ATTEMPTS = RETRY_SCHEDULE_MS.length + 1;

export function retryDelay(attemptsMade: number): number {
  const base = RETRY_SCHEDULE_MS[Math.min(attemptsMade, RETRY_SCHEDULE_MS.length) - 1] ?? RETRY_SCHEDULE_MS[0]!;
  return Math.round(base * (0.9 + Math.random() * 0.2));
}

/** For BullMQ workers: maxRetriesPerRequest null, so blocking commands wait out a Redis restart. */
export function workerConnection(config: Config): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: null });
}

/** For producers: fail fast while Redis is away (the outbox keeps the event; the sweep retries),
 *  rather than hold a Postgres transaction open waiting for it. */
export function producerConnection(config: Config): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
}

export function eventsQueue(config: Config, connection: Redis): Queue {
  return new Queue(EVENTS_QUEUE, { connection, prefix: config.queuePrefix });
}
