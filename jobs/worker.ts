// The worker process: BullMQ workers plus the outbox relay and the periodic sweep. Postgres is the
// record, so on start and on every sweep it re-arms from Postgres whatever Redis may have lost.
import { Worker, type Job } from 'bullmq';
import { sql } from 'kysely';
import type { Deps } from '../src/deps.js';
import { OUTBOX_KEY } from '../src/outbox/outbox.js';
import { EVENTS_QUEUE, eventsQueue, producerConnection, retryDelay, workerConnection } from '../src/queue.js';
import { dispatchEvent, markDispatched } from './dispatch-event.js';
import { relayOutbox } from './relay-outbox.js';

export interface RunningWorker {
  /** Runs one sweep now (tests and the CLI use it; the timer calls it too). */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

/** Serializes calls to fn; a call made while one runs schedules exactly one more run after it. */
function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const run = async (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })().finally(() => (running = undefined));
    return running;
  };
  return run;
}

export async function startWorker(deps: Deps): Promise<RunningWorker> {
  const { config, log } = deps;
  const connection = workerConnection(config);
  const producer = producerConnection(config);
  for (const c of [connection, producer]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = eventsQueue(config, producer);

  const worker = new Worker(EVENTS_QUEUE, async (job: Job<{ outboxId: string }>) => dispatchEvent(deps, job.data.outboxId), {
    connection,
    prefix: config.queuePrefix,
    concurrency: 16,
    settings: { backoffStrategy: (attemptsMade: number) => retryDelay(config.retryScheduleMs, attemptsMade) },
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    log.warn({ job: job.id, attempt: job.attemptsMade, final, err: err.message }, 'event delivery failed');
    // After the last retry the event is given up on; the sweep must not revive it.
    if (final) markDispatched(deps, job.data.outboxId).catch((e) => log.error({ err: e }, 'could not mark event'));
  });

  const relayFresh = coalesced(async () => {
    await relayOutbox(deps, queue, 'fresh').catch((err) => log.warn({ err: err.message }, 'outbox relay failed'));
  });
  const unsubscribe = await deps.notifier.subscribe(OUTBOX_KEY, () => void relayFresh());

  const sweep = coalesced(async () => {
    try {
      const relayed = await relayOutbox(deps, queue, 'stale');
      if (relayed) log.info({ relayed }, 'sweep re-armed outbox events');
      await sql`delete from idempotency_keys where created_at < now() - interval '24 hours'`.execute(deps.db);
      await sql`delete from outbox where dispatched_at < now() - interval '7 days'`.execute(deps.db);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'sweep failed; will retry');
    }
  });
  // Start once Redis answers (or after 5 s: a sweep that fails is retried), then re-arm whenever
  // Redis reconnects, since it may have come back empty.
  await new Promise<void>((resolve) => {
    if (producer.status === 'ready') return resolve();
    const timer = setTimeout(resolve, 5_000);
    producer.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await sweep();
  producer.on('ready', () => void sweep());
  const timer = setInterval(() => void sweep(), config.sweepIntervalMs);
  timer.unref();
  log.info({ prefix: config.queuePrefix }, 'worker started');

  return {
    sweep,
    async close() {
      clearInterval(timer);
      unsubscribe();
      await worker.close();
      await queue.close();
      connection.disconnect();
      producer.disconnect();
    },
  };
}
