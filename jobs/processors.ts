// What each BullMQ queue runs: the job handlers of the worker process (jobs/worker.ts), with the
// concurrency and lock settings each needs. The handlers do the work through the domain modules and
// the job files beside this one; the worker owns the queues, the sweeps and the Redis guard.
import { DelayedError, type Job, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { RetryLater } from '../src/channels/adapter.js';
import type { Deps } from '../src/deps.js';
import type { QueueName, Queues } from '../src/queue.js';
import { armDeliveries, armOutcomes, armSends, TIMER_LEAD_MS } from './arm.js';
import { attemptDelivery } from './deliver.js';
import { drainInbox } from './drain-inbox.js';
import { expireJob } from './expire-approval.js';
import { sendPrompt, showOutcome, type AdapterFor, type Pacer, type Pacing, type StepResult } from './prompts.js';

/** A slow target may hold at most this many delivery slots in this process; the rest wait. */
const PER_TARGET_IN_FLIGHT = 4;
/** A drain's BullMQ lock: renewed while it runs; lapsed, another worker takes the drain over. */
const DRAIN_LOCK_MS = 5_000;

export interface Processor {
  concurrency: number;
  options?: Partial<WorkerOptions>;
  run: (job: Job, token?: string) => Promise<unknown>;
}

export function jobProcessors({
  deps,
  queues,
  producer,
  closing,
  adapterFor,
}: {
  adapterFor: AdapterFor;
  deps: Deps;
  queues: Queues;
  producer: Redis;
  closing: () => boolean;
}): Record<QueueName, Processor> {
  const { config, log, db } = deps;
  const inFlight = new Map<string, number>();
  /** Calls to one destination at most once per everyMs, across every worker process (a Redis key
   *  that expires when the next call may go). */
  const pace: Pacer = async (key, everyMs) => {
    const slot = `${config.queuePrefix}:leash:pace:${key}`;
    if (await producer.set(slot, '1', 'PX', everyMs, 'NX')) return;
    const left = await producer.pttl(slot);
    throw new RetryLater(Date.now() + Math.max(left, 20), `pacing ${key}`);
  };
  /** A per-minute budget across every worker process: a counter per key and minute. Over it, the
   *  call waits for the next minute (spread over a second, so the waiting sends do not stampede). */
  const budget: Pacing['budget'] = async (key, perMinute) => {
    const minute = Math.floor(Date.now() / 60_000);
    const slot = `${config.queuePrefix}:leash:budget:${key}:${minute}`;
    const [[, used]] = (await producer.multi().incr(slot).pexpire(slot, 61_000).exec()) as [[Error | null, number]];
    if (used <= perMinute) return;
    throw new RetryLater(
      (minute + 1) * 60_000 + Math.floor(Math.random() * 1_000),
      `send budget of ${perMinute} a minute used up for ${key}`,
    );
  };
  const pacing: Pacing = { pace, budget };
  /** What a prompt step leaves to arm: its retry, or an outcome a late send made due. */
  const armAfter = async (r: StepResult) => {
    if (r.retry) await armSends(queues, [r.retry]);
    if (r.outcomeRetry) await armOutcomes(queues, [r.outcomeRetry]);
    if (r.outcomeDue) await armOutcomes(queues, [r.outcomeDue]);
  };
  return {
    deliveries: {
      concurrency: 32,
      // A delivery of a crashed worker is retried within ~10 s, not BullMQ's default ~60 s (the lock
      // is renewed while a POST runs, so a slow receiver keeps it). Running it twice is safe: the
      // webhook-id is the event's, and receivers dedupe on it.
      options: { lockDuration: 5_000, stalledInterval: 5_000, maxStalledCount: 1_000 },
      run: async (job, token) => {
        const target: string = job.data.target ?? 'unknown';
        const busy = inFlight.get(target) ?? 0;
        if (busy >= PER_TARGET_IN_FLIGHT) {
          await job.moveToDelayed(Date.now() + 50 + Math.floor(Math.random() * 100), token);
          throw new DelayedError();
        }
        inFlight.set(target, busy + 1);
        try {
          const result = await attemptDelivery(deps, job.data.deliveryId);
          const columns = ['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'] as const;
          if (result.outcome === 'retry') {
            const row = await db
              .selectFrom('deliveries')
              .select(columns)
              .where('id', '=', job.data.deliveryId)
              .executeTakeFirst();
            if (row) await armDeliveries(queues, [row]);
          }
          if ('agentId' in result && result.agentId) {
            const next = await db
              .selectFrom('deliveries')
              .select(columns)
              .where('agent_id', '=', result.agentId)
              .where('status', '=', 'pending')
              .orderBy('event_id')
              .limit(1)
              .executeTakeFirst();
            if (next) await armDeliveries(queues, [next]);
          }
          return result;
        } finally {
          const left = (inFlight.get(target) ?? 1) - 1;
          if (left > 0) inFlight.set(target, left);
          else inFlight.delete(target);
        }
      },
    },
    timers: {
      // Each job sleeps up to TIMER_LEAD_MS before its deadline, so the slots must cover the due
      // rate times the lead: 1,000 slots keep 2,000 timeouts a second on time. A sleeping job costs
      // a timer and a share of one lock-renewal call.
      concurrency: 1_000,
      run: async (job) => {
        const result = await expireJob(deps, job.data.approvalId);
        if (typeof result === 'object') {
          await queues.timers.add('expire', job.data, {
            jobId: `expire.${job.data.approvalId}.${Date.now()}`,
            delay: Math.max(0, result.rearmAt.getTime() - Date.now() - TIMER_LEAD_MS),
          });
        }
        return result;
      },
    },
    channels: {
      concurrency: 8,
      run: async (job, token) => {
        // A job armed before prompts existed names an approval: its prompt was re-armed at start.
        if (typeof job.data.promptId !== 'string') return 'stale';
        try {
          const result = await (job.name === 'send'
            ? sendPrompt(deps, job.data.promptId, pacing, adapterFor)
            : showOutcome(deps, job.data.promptId, pacing, adapterFor));
          await armAfter(result);
          return result.done;
        } catch (err) {
          // A vendor's 429 or our own pacing: the same job runs again then, its attempts untouched.
          if (!(err instanceof RetryLater)) throw err;
          await job.moveToDelayed(err.at, token);
          throw new DelayedError();
        }
      },
    },
    drains: {
      concurrency: 16,
      // A drain of a crashed worker is taken over within ~10 s (its lock lapses), however often
      // that happens: the drain resumes from the last ack, so running it again is always safe.
      // A drain that lost its lock (a long stall) sees it before its next POST and stops.
      options: { lockDuration: DRAIN_LOCK_MS, stalledInterval: 5_000, maxStalledCount: 1_000 },
      run: async (job, token) => {
        let checked = Date.now();
        const stillOwner = async () => {
          if (Date.now() - checked < 1_000) return true;
          checked = Date.now();
          return (await job.extendLock(token!, DRAIN_LOCK_MS)) === 1;
        };
        let at: number;
        try {
          const result = await drainInbox(deps, job.data.agentId, { stopping: closing, stillOwner });
          if (result.outcome !== 'retry') return result;
          at = result.at.getTime();
        } catch (err) {
          // Postgres away, say: the same job tries again shortly rather than waiting for the sweep.
          log.warn({ err: (err as Error).message, agent: job.data.agentId }, 'drain failed; retrying');
          at = Date.now() + 2_000;
        }
        // The same job waits out the backoff, so its id keeps any second drain of this agent out.
        await job.moveToDelayed(at, token);
        throw new DelayedError();
      },
    },
  };
}
