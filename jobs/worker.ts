// The worker process, in parts (as pg-boss splits manager, maintenance and timekeeper): the outbox
// loop (jobs/outbox-loop.ts), the processors of each queue (in each job's file), inbox wake-ups
// (jobs/inbox-wakeups.ts), the sweep and clean-up (jobs/sweep.ts), all on a scheduler
// (jobs/scheduler.ts: BullMQ in queue mode, in-process otherwise; the root chooses). Postgres is the record: at start, on every sweep and
// whenever the scheduler may have lost its jobs, work is re-armed from Postgres (jobs/rearm.ts).
import { coalesced } from '../src/coalesced.js';
import type { Deps } from '../src/deps.js';
import { OUTBOX_KEY } from '../src/outbox/outbox.js';
import { horizonMs } from '../src/timer-horizon.js';
import { DELIVERIES_KEY } from '../src/webhooks/endpoints.js';
import { DRAIN_RESET_PREFIX, INBOX_PREFIX } from '../src/wakeups.js';
import { deliveryProcessor } from './deliver.js';
import { drainProcessor } from './drain-inbox.js';
import { timerProcessor } from './expire-approval.js';
import { inboxWakeups, type InboxWakeups } from './inbox-wakeups.js';
import { outboxLoop } from './outbox-loop.js';
import { channelProcessor, type AdapterFor } from './prompts.js';
import { armDueDeliveries, rearmEverything } from './rearm.js';
import { SchedulerAway, type Scheduler } from './scheduler.js';
import { sweeper, type ArmedTimers } from './sweep.js';

export interface RunningWorker {
  /** Runs one sweep now (tests use it; the timer calls it too). */
  sweep(): Promise<void>;
  /** Checks now whether the scheduler lost its jobs, and re-arms everything if so. */
  checkRedis(): Promise<void>;
  close(): Promise<void>;
}

/** How often the worker checks that the scheduler still holds its jobs (a FLUSHALL keeps
 *  connections up). */
const LOSS_CHECK_MS = 2_000;

/** What wakes the worker: NOTIFYs at commit. Returns the unsubscribes. */
async function listen(
  deps: Deps,
  on: { outbox: () => void; deliveries: () => void; inboxes: InboxWakeups },
): Promise<(() => void)[]> {
  return [
    await deps.notifier.subscribe(OUTBOX_KEY, on.outbox),
    await deps.notifier.subscribe(DELIVERIES_KEY, on.deliveries),
    // An empty suffix: the listener reconnected and cannot say what it missed.
    await deps.notifier.subscribePrefix(INBOX_PREFIX, (key) =>
      on.inboxes.wake(key.slice(INBOX_PREFIX.length) || undefined),
    ),
    await deps.notifier.subscribePrefix(
      DRAIN_RESET_PREFIX,
      (key) => void on.inboxes.reset(key.slice(DRAIN_RESET_PREFIX.length)),
    ),
  ];
}

export async function startWorker(deps: Deps, adapterFor: AdapterFor, scheduler: Scheduler): Promise<RunningWorker> {
  const { config, log, db } = deps;
  /** Logs a failure, but not once more per wake-up for an outage already reported. */
  const warn = (err: Error, msg: string) => {
    if (!(err instanceof SchedulerAway)) log.warn({ err: err.message }, msg);
  };
  const horizon = horizonMs(config.sweepIntervalMs);
  const armed: ArmedTimers = { until: 0, at: 0 };
  let closing = false;
  const outbox = outboxLoop(deps, scheduler, warn);
  const inboxes = inboxWakeups(deps, scheduler, () => closing, warn);
  const sweepOnce = sweeper(deps, scheduler, armed, horizon, warn);
  const sweep = coalesced(async () => {
    await outbox.dispatch();
    await sweepOnce();
  });

  // Re-arms every pending timer and delivery from Postgres (job ids dedupe what the scheduler still
  // has). Runs at start (a crash may have lost arms between a commit and the scheduler), and when
  // the scheduler says it may have lost them.
  const rearm = coalesced(async () => {
    try {
      const now = Date.now();
      const counts = await rearmEverything(db, scheduler, new Date(now + horizon));
      Object.assign(armed, { until: now + horizon, at: now });
      await scheduler.armedAll();
      log.info(counts, 're-armed timers and deliveries from Postgres');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 're-arming failed; will retry');
    }
  });
  const check = coalesced(() => scheduler.check().catch((err) => warn(err, 'scheduler check failed; will retry')));

  await scheduler.start(
    {
      deliveries: deliveryProcessor(deps, scheduler),
      timers: timerProcessor(deps, scheduler),
      channels: channelProcessor(deps, scheduler, adapterFor),
      drains: drainProcessor(deps, () => closing),
    },
    {
      lost: () => rearm().then(sweep),
      completed: (queue, data) => {
        if (queue === 'drains') inboxes.wake(data.agentId);
      },
    },
  );
  const armDue = coalesced(async () => {
    if (!scheduler.ready) return;
    await armDueDeliveries(db, scheduler, 0).catch((err) => warn(err, 'arming deliveries failed'));
  });
  deps.metrics.sources.scheduler = () => scheduler.depths();
  const unsubscribe = await listen(deps, {
    outbox: () => void outbox.dispatch(),
    deliveries: () => void armDue(),
    inboxes,
  });

  await rearm();
  await sweep();
  const stopPoll = outbox.poll();
  const timers = [
    setInterval(() => void sweep(), config.sweepIntervalMs),
    setInterval(() => void check(), LOSS_CHECK_MS),
  ];
  for (const t of timers) t.unref();
  log.info({ prefix: config.queuePrefix }, 'worker started');

  return {
    sweep,
    checkRedis: check,
    async close() {
      // Running drains stop after their current message (the next worker resumes from the ack).
      closing = true;
      stopPoll();
      for (const t of timers) clearInterval(t);
      for (const u of unsubscribe) u();
      await scheduler.close();
    },
  };
}
