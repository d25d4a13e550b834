// The worker process: the outbox fan-out (woken by NOTIFY the moment a change commits), BullMQ
// workers for deliveries, timers and channels, and the sweeps. Postgres is the record: on start,
// on every sweep, and whenever Redis comes back (or is found emptied), it re-arms from Postgres
// whatever Redis may have lost.
import { Worker } from 'bullmq';
import { sql } from 'kysely';
import { ARM_AHEAD_MS } from '../src/approvals/approvals.js';
import { expireApprovals } from '../src/approvals/decide.js';
import { pruneInbound } from '../src/chat/dedupe.js';
import { coalesced } from '../src/coalesced.js';
import type { Deps } from '../src/deps.js';
import { OUTBOX_KEY } from '../src/outbox/outbox.js';
import { createQueues, producerConnection, workerConnection } from '../src/queue.js';
import { DELIVERIES_KEY } from '../src/webhooks/endpoints.js';
import { DRAIN_RESET_PREFIX, INBOX_PREFIX } from '../src/wakeups.js';
import {
  armDeliveries,
  armDrains,
  armDueDeliveries,
  armDuePrompts,
  armOutcomes,
  armSends,
  armTimers,
  armTimersDue,
  rearmEverything,
} from './arm.js';
import { BATCH, dispatchBatch, outboxPending, type Fanout } from './dispatch-outbox.js';
import { jobProcessors } from './processors.js';
import type { AdapterFor } from './prompts.js';

export interface RunningWorker {
  /** Runs one sweep now (tests use it; the timer calls it too). */
  sweep(): Promise<void>;
  /** Checks now whether Redis lost our keys, and re-arms everything if so. */
  checkRedis(): Promise<void>;
  close(): Promise<void>;
}

/** Redis is not connected: said once per outage (see redisError), not at every wake-up. */
class RedisAway extends Error {
  constructor() {
    super('redis is not connected');
  }
}

/** The sweep times out approvals this long past due whose timer did not fire (Redis lost it, or is
 *  away). */
const OVERDUE_MS = 5_000;
/** New approvals do not NOTIFY (see createApproval): the worker looks for undispatched events this
 *  often, besides every wake-up, while events keep coming, and every OUTBOX_IDLE_POLL_MS once none
 *  has come for OUTBOX_QUIET_MS. Each poll is a query (~15 KB allocated), and twenty a second kept V8
 *  from ever finding the process idle, so the heap a burst of connections had grown was never handed
 *  back (10,000 idle connections: 222–322 MB polling every 50 ms, 192–214 MB every 250 ms). A new
 *  approval's timer and channel message wait at most 50 ms, or 250 ms after a quiet spell. */
const OUTBOX_POLL_MS = 50;
const OUTBOX_IDLE_POLL_MS = 250;
const OUTBOX_QUIET_MS = 10_000;
/** How often the worker checks that Redis still holds its data (a FLUSHALL keeps connections up). */
const REDIS_CHECK_MS = 2_000;

export async function startWorker(deps: Deps, adapterFor: AdapterFor): Promise<RunningWorker> {
  const { config, log, db } = deps;
  const connection = workerConnection(config);
  const producer = producerConnection(config);
  // One warning per outage, not one per reconnect attempt per connection (several a second).
  let redisDown = false;
  const redisError = (err: Error, queue?: string) => {
    if (redisDown) return;
    redisDown = true;
    log.warn(
      { err: err.message, queue },
      'redis unreachable: timers and deliveries wait, and are re-armed from Postgres when it is back',
    );
  };
  for (const c of [connection, producer]) c.on('error', (err) => redisError(err));
  producer.on('ready', () => {
    if (redisDown) log.info('redis is back');
    redisDown = false;
  });
  const queues = createQueues(config, producer);
  /** Timers due within this are armed in Redis; the sweep moves the horizon along (twice per
   *  horizon at least, so each timer is armed well before its deadline). */
  const horizonMs = Math.max(ARM_AHEAD_MS, 2 * config.sweepIntervalMs);
  /** Deadlines before this have been armed (by the last re-arm or sweep of this process), at
   *  armedAt. */
  let armedUntil = 0;
  let armedAt = 0;

  /** BullMQ waits for a connection that is not ready, without end; with Redis away, work that needs
   *  it fails fast instead and is re-armed from Postgres when Redis is back (`rearm` on 'ready'). */
  const redisReady = () => {
    if (producer.status !== 'ready') throw new RedisAway();
  };
  const whenRedis = async <T>(fn: () => Promise<T>): Promise<T> => {
    redisReady();
    return fn();
  };
  /** Logs a failure, but not once more per wake-up for an outage already reported. */
  const warn = (err: Error, msg: string) => {
    if (!(err instanceof RedisAway)) log.warn({ err: err.message }, msg);
  };
  const arm = async (fan: Fanout) => {
    redisReady();
    await armDeliveries(queues, fan.deliveries);
    // Far-off deadlines are left to the sweep (see ARM_AHEAD_MS), as for approvals with no event.
    await armTimers(
      queues,
      fan.requested.filter((a) => a.expires_at.getTime() < Date.now() + horizonMs),
    );
    await armSends(queues, fan.sends);
    await armOutcomes(queues, fan.outcomes);
  };
  /** When the outbox last had events: the poll slows down after a quiet spell. */
  let lastEventAt = Date.now();
  /** Fans out every undispatched event, batch by batch. */
  const dispatch = coalesced(async () => {
    try {
      for (;;) {
        const fan = await dispatchBatch(deps);
        if (fan.events === 0) return;
        lastEventAt = Date.now();
        await arm(fan);
        // A short batch emptied the outbox (but for rows another worker holds): reading again would
        // cost an empty transaction per wake-up, three round trips per decision at 100 a second.
        if (fan.events < BATCH) return;
      }
    } catch (err) {
      warn(err as Error, 'outbox fan-out failed; the sweep retries');
    }
  });

  let closing = false;
  const processors = jobProcessors({ deps, queues, producer, adapterFor, closing: () => closing });
  // Inboxes: a message, an unpause, a start or a new delivery_url notifies `inbox:<agent>`; those
  // agents' drains are armed in one query per burst. A finished drain re-checks its agent too: a
  // message committed while it was finishing found its job id taken.
  const woken = new Set<string>();
  let all = false;
  const armWoken = coalesced(async () => {
    const ids = all ? undefined : [...woken];
    all = false;
    woken.clear();
    await whenRedis(() => armDrains(deps, queues, ids)).catch((err) =>
      warn(err, 'arming drains failed; the sweep retries'),
    );
  });
  /** A new delivery_url: a drain delayed by the old URL's backoff runs now. */
  const resetDrain = async (agentId: string) => {
    if (!agentId || closing) return;
    try {
      const job = await whenRedis(() => queues.drains.getJob(`drain.${agentId}`));
      if (job && (await job.isDelayed())) await job.promote();
    } catch (err) {
      warn(err as Error, 'could not restart a delayed drain');
    }
    wakeInbox(agentId);
  };
  const wakeInbox = (agentId: string | undefined) => {
    if (closing) return;
    if (agentId) woken.add(agentId);
    else all = true;
    void armWoken();
  };
  const workers = Object.entries(processors).map(([name, p]) => {
    const w = new Worker(name, (job, token) => p.run(job, token), {
      connection,
      prefix: config.queuePrefix,
      concurrency: p.concurrency,
      ...p.options,
    });
    w.on('error', (err) =>
      producer.status === 'ready' ? log.warn({ queue: name, err: err.message }, 'worker error') : redisError(err, name),
    );
    w.on('failed', (job, err) =>
      log.warn({ queue: name, job: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job failed'),
    );
    if (name === 'drains') w.on('completed', (job) => wakeInbox(job.data.agentId));
    return w;
  });

  const armDue = coalesced(async () => {
    await whenRedis(() => armDueDeliveries(deps, queues, 0)).catch((err) => warn(err, 'arming deliveries failed'));
  });
  const unsubscribe = [
    await deps.notifier.subscribe(OUTBOX_KEY, () => void dispatch()),
    await deps.notifier.subscribe(DELIVERIES_KEY, () => void armDue()),
    // An empty suffix: the listener reconnected and cannot say what it missed.
    await deps.notifier.subscribePrefix(INBOX_PREFIX, (key) => wakeInbox(key.slice(INBOX_PREFIX.length) || undefined)),
    await deps.notifier.subscribePrefix(
      DRAIN_RESET_PREFIX,
      (key) => void resetDrain(key.slice(DRAIN_RESET_PREFIX.length)),
    ),
  ];

  /** One sweep step; its failure is logged and the next step runs anyway. */
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      warn(err as Error, `sweep: ${what} failed; will retry`);
      return undefined;
    }
  };
  // Steps fail alone: with Redis away, the Postgres-only ones (approvals past due, clean-up) still
  // run, so no timeout waits for Redis to come back.
  const sweep = coalesced(async () => {
    await dispatch();
    const deliveries = await step('arming deliveries', () => whenRedis(() => armDueDeliveries(deps, queues, 30_000)));
    // A question or an outcome update whose job Redis lost (or never got) is retried from its row.
    const prompts = await step('arming prompts', () => whenRedis(() => armDuePrompts(deps, queues, 30_000)));
    await step('arming timers', () =>
      whenRedis(async () => {
        // From where the last arming stopped, or ARM_AHEAD_MS after it ran if that is sooner (a
        // web approval created since then without an event is due at least that late, even when
        // long sweeps make the horizon longer), less a minute for a web process's clock skew.
        const now = Date.now();
        await armTimersDue(
          deps,
          queues,
          new Date(Math.min(armedUntil, armedAt + ARM_AHEAD_MS) - 60_000),
          new Date(now + horizonMs),
        );
        armedUntil = now + horizonMs;
        armedAt = now;
      }),
    );
    await step('arming drains', () => whenRedis(() => armDrains(deps, queues)));
    // The safety net under the timers: nothing stays pending long past its deadline.
    const expired = await step('expiring overdue approvals', async () => {
      const overdue = await db
        .selectFrom('approvals')
        .select('id')
        .where('status', '=', 'pending')
        .where('expires_at', '<', new Date(Date.now() - OVERDUE_MS))
        .limit(1_000)
        .execute();
      await expireApprovals(
        db,
        overdue.map((a) => a.id),
        deps.approvals,
      );
      return overdue.length;
    });
    if (deliveries || prompts || expired) log.info({ deliveries, prompts, expired }, 'sweep re-armed work');
    await step('clean-up', async () => {
      await sql`delete from idempotency_keys where created_at < now() - interval '24 hours'`.execute(db);
      await pruneInbound(db);
      await sql`delete from link_codes where expires_at < now() - interval '1 day'`.execute(db);
      await sql`delete from login_links where expires_at < now() - interval '1 day'`.execute(db);
      await sql`delete from dashboard_sessions where expires_at < now()`.execute(db);
      await sql`delete from deliveries where status <> 'pending' and updated_at < now() - interval '30 days'`.execute(
        db,
      );
      await sql`delete from outbox o where dispatched_at < now() - interval '30 days'
                and not exists (select 1 from deliveries d where d.event_id = o.id)`.execute(db);
    });
  });

  // Re-arms every pending timer and delivery from Postgres (job ids dedupe what Redis still has).
  // Runs at start (a crash may have lost arms between a commit and Redis), when Redis reconnects,
  // and when the sentinel key is gone: a FLUSHALL, or a Redis restarted without persistence, loses
  // every delayed job without closing our connections.
  const sentinel = `${config.queuePrefix}:leash:armed`;
  const rearm = coalesced(async () => {
    try {
      const now = Date.now();
      const armed = await rearmEverything(deps, queues, new Date(now + horizonMs));
      armedUntil = now + horizonMs;
      armedAt = now;
      await producer.set(sentinel, new Date().toISOString());
      log.info(armed, 're-armed timers and deliveries from Postgres');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 're-arming failed; will retry');
    }
  });
  const checkRedis = coalesced(async () => {
    if (producer.status !== 'ready') return; // re-armed on 'ready'
    try {
      if (!(await producer.exists(sentinel))) await rearm();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'redis check failed; will retry');
    }
  });

  // Start once Redis answers (or after 5 s: what fails is retried), then re-check whenever Redis
  // reconnects, since it may have come back empty.
  await new Promise<void>((resolve) => {
    if (producer.status === 'ready') return resolve();
    const timer = setTimeout(resolve, 5_000);
    producer.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await rearm();
  await sweep();
  producer.on('ready', () => void rearm().then(sweep));
  // Coalesced: with Postgres slow or away, polls do not pile up behind one another.
  let lastPollAt = 0;
  const poll = coalesced(async () => {
    const now = Date.now();
    if (now - lastEventAt > OUTBOX_QUIET_MS && now - lastPollAt < OUTBOX_IDLE_POLL_MS) return;
    lastPollAt = now;
    if (await outboxPending(deps).catch(() => false)) await dispatch();
  });
  const timers = [
    setInterval(() => void sweep(), config.sweepIntervalMs),
    setInterval(() => void checkRedis(), REDIS_CHECK_MS),
    setInterval(() => void poll(), OUTBOX_POLL_MS),
  ];
  for (const t of timers) t.unref();
  log.info({ prefix: config.queuePrefix }, 'worker started');

  return {
    sweep,
    checkRedis,
    async close() {
      // Running drains stop after their current message (the next worker resumes from the ack).
      closing = true;
      for (const t of timers) clearInterval(t);
      for (const u of unsubscribe) u();
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(Object.values(queues).map((q) => q.close()));
      connection.disconnect();
      producer.disconnect();
    },
  };
}
