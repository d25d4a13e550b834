// Redis connections and queues for BullMQ. Redis is only a scheduler here: every job can be
// rebuilt from Postgres (jobs/rearm.ts).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAMES, type QueueName } from '../scheduler.js';

export type Queues = Record<QueueName, Queue>;

/** For BullMQ workers: maxRetriesPerRequest null, so blocking commands wait out a Redis restart. */
export function workerConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

/** For producers: fail fast while Redis is away (the outbox keeps the event; the sweep retries),
 *  rather than hold a Postgres transaction open waiting for it. */
export function producerConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
}

export function createQueues(prefix: string, connection: Redis): Queues {
  // Failed jobs are not kept: job ids derive from rows, and a kept failed job would block re-arming
  // that row; failures are recorded in Postgres (the row) and the logs.
  const make = (name: QueueName) =>
    new Queue(name, { connection, prefix, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  return Object.fromEntries(QUEUE_NAMES.map((n) => [n, make(n)])) as Queues;
}
