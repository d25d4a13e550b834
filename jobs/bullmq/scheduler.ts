// The scheduler on BullMQ and Redis. Redis may lose everything (a FLUSHALL, a restart without
// persistence) without closing our connections: a sentinel key, set after each full re-arm, tells
// that it did, and a reconnect may have come back empty too; either calls `lost`, and the worker
// re-arms from Postgres.
import { DelayedError, Worker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  JOB_RETRIES,
  QUEUE_NAMES,
  RunAgain,
  SchedulerAway,
  type Job,
  type Processor,
  type QueueName,
  type Scheduler,
} from '../scheduler.js';
import { createQueues, producerConnection, workerConnection } from './connections.js';
import { redisPacing } from './pacing.js';

const CHUNK = 1_000;
/** The longest start() waits for Redis before it goes on (what fails meanwhile is retried). */
const READY_WAIT_MS = 5_000;

export function bullmqScheduler({
  redisUrl,
  prefix,
  log,
}: {
  redisUrl: string;
  prefix: string;
  log: Logger;
}): Scheduler {
  const connection = workerConnection(redisUrl);
  const producer = producerConnection(redisUrl);
  const redisError = outageLog(log, [connection, producer]);
  const queues = createQueues(prefix, producer);
  const sentinel = `${prefix}:leash:armed`;
  let workers: Worker[] = [];
  let lost: () => Promise<void> = async () => {};
  // BullMQ waits for a connection that is not ready, without end; with Redis away, arming fails
  // fast instead and is re-armed from Postgres when Redis is back.
  const ensureReady = () => {
    if (producer.status !== 'ready') throw new SchedulerAway();
  };

  return {
    get ready() {
      return producer.status === 'ready';
    },
    async arm(queue: QueueName, jobs: Job[]) {
      if (jobs.length === 0) return;
      ensureReady();
      const { attempts, backoffMs } = JOB_RETRIES[queue];
      const retry = attempts > 1 ? { attempts, backoff: { type: 'exponential', delay: backoffMs } } : {};
      for (let i = 0; i < jobs.length; i += CHUNK) {
        await queues[queue].addBulk(
          jobs.slice(i, i + CHUNK).map((j) => ({
            name: j.name,
            data: j.data,
            opts: { jobId: j.id, delay: Math.max(0, j.at - Date.now()), ...retry },
          })),
        );
      }
    },
    async hurry(queue, id) {
      ensureReady();
      const job = await queues[queue].getJob(id);
      if (job && (await job.isDelayed())) await job.promote();
    },
    pacing: redisPacing(producer, prefix),
    async start(processors, hooks) {
      lost = hooks.lost;
      await untilReady(producer);
      workers = (Object.entries(processors) as [QueueName, Processor][]).map(([name, p]) => {
        const w = bullWorker(name, p, { connection, producer, prefix, log, redisError });
        w.on('completed', (job) => hooks.completed(name, job.data));
        return w;
      });
      producer.on('ready', () => void lost());
    },
    async armedAll() {
      await producer.set(sentinel, new Date().toISOString());
    },
    async check() {
      if (producer.status !== 'ready') return; // re-armed on 'ready'
      if (!(await producer.exists(sentinel))) await lost();
    },
    async depths() {
      ensureReady();
      return queueDepths(queues);
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(Object.values(queues).map((q) => q.close()));
      connection.disconnect();
      producer.disconnect();
    },
  };
}

/** A BullMQ worker running one queue's processor. */
function bullWorker(
  name: QueueName,
  p: Processor,
  { connection, producer, prefix, log, redisError }: WorkerWiring,
): Worker {
  const w = new Worker(name, (job, token) => runJob(job, token, p), {
    connection,
    prefix,
    concurrency: p.concurrency,
    // A crashed run's job is taken over once its lock lapses, however often that happens.
    ...(p.lockMs ? { lockDuration: p.lockMs, stalledInterval: 5_000, maxStalledCount: 1_000 } : {}),
  });
  w.on('error', (err) =>
    producer.status === 'ready' ? log.warn({ queue: name, err: err.message }, 'worker error') : redisError(err, name),
  );
  w.on('failed', (job, err) =>
    log.warn({ queue: name, job: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
  );
  return w;
}

interface WorkerWiring {
  connection: Redis;
  producer: Redis;
  prefix: string;
  log: Logger;
  redisError: (err: Error, queue?: string) => void;
}

/** Logs an outage once, not once per reconnect attempt per connection (several a second), and
 *  its end. Returns the reporter for errors seen elsewhere (a worker's). */
function outageLog(log: Logger, [connection, producer]: Redis[]) {
  let down = false;
  const report = (err: Error, queue?: string) => {
    if (down) return;
    down = true;
    log.warn(
      { err: err.message, queue },
      'redis unreachable: timers and deliveries wait, and are re-armed from Postgres when it is back',
    );
  };
  for (const c of [connection!, producer!]) c.on('error', (err) => report(err));
  producer!.on('ready', () => {
    if (down) log.info('redis is back');
    down = false;
  });
  return report;
}

/** Runs one job; RunAgain puts the same job back for its time, keeping its id and attempts. */
async function runJob(job: BullJob, token: string | undefined, p: Processor): Promise<unknown> {
  let checked = Date.now();
  const stillOwner = async () => {
    if (!p.lockMs || Date.now() - checked < 1_000) return true;
    checked = Date.now();
    return (await job.extendLock(token!, p.lockMs)) === 1;
  };
  try {
    return await p.run({ name: job.name, data: job.data }, { stillOwner });
  } catch (err) {
    if (!(err instanceof RunAgain)) throw err;
    await job.moveToDelayed(err.at, token);
    throw new DelayedError();
  }
}

/** Resolves once Redis answers, or after READY_WAIT_MS. */
function untilReady(producer: Redis): Promise<void> {
  return new Promise<void>((resolve) => {
    if (producer.status === 'ready') return resolve();
    const timer = setTimeout(resolve, READY_WAIT_MS);
    producer.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Jobs per queue and state, for /metrics (prioritized jobs are waiting too). */
async function queueDepths(queues: ReturnType<typeof createQueues>) {
  const counts = await Promise.all(
    QUEUE_NAMES.map(async (name) => {
      const c = await queues[name].getJobCounts('waiting', 'prioritized', 'delayed', 'active');
      return [
        name,
        { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0, active: c.active ?? 0 },
      ];
    }),
  );
  return Object.fromEntries(counts) as Awaited<ReturnType<Scheduler['depths']>>;
}
