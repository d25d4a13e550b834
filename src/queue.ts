// BullMQ wiring shared by the worker and anything that enqueues. Redis is only a scheduler here:
// every job can be rebuilt from Postgres (see jobs/relay-outbox.ts).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Config } from './config.js';

/** deliveries: signed POSTs of events. timers: approval timeouts. channels: sending approvals on
 *  Slack/Telegram/SMS/email and updating them afterwards. drains: agents' inboxes to their
 *  delivery_url, one job per agent. (Outbox fan-out needs no queue: the worker reads the outbox
 *  directly, woken by NOTIFY.) */
export const QUEUE_NAMES = ['deliveries', 'timers', 'channels', 'drains'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];
export type Queues = Record<QueueName, Queue>;

/** The delay before retry number `attemptsMade` (config RETRY_SCHEDULE_MS, by default contract
 *  §5's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), with ±10 % jitter so retries do not stampede. */
export function retryDelay(schedule: number[], attemptsMade: number): number {
  const base = schedule[Math.min(attemptsMade, schedule.length) - 1] ?? schedule[0] ?? 0;
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

export function createQueues(config: Config, connection: Redis): Queues {
  const make = (name: QueueName) =>
    new Queue(name, {
      connection,
      prefix: config.queuePrefix, // Failed jobs are not kept: job ids derive from rows, and a kept failed job would block re-arming
      // that row; failures are recorded in Postgres (the row) and the logs.
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
  return { deliveries: make('deliveries'), timers: make('timers'), channels: make('channels'), drains: make('drains') };
}
