// The outbox fan-out: woken by NOTIFY the moment a change commits, and by a poll (new approvals do
// not NOTIFY, see createApproval). Each batch's work is armed after its commit; if arming fails,
// the sweep re-arms from Postgres.
import { coalesced } from '../src/coalesced.js';
import type { Deps } from '../src/deps.js';
import type { Metrics } from '../src/metrics/metrics.js';
import { horizonMs } from '../src/timer-horizon.js';
import { armDeliveries, armOutcomes, armProgress, armSends, armTimers } from './arm.js';
import { BATCH, dispatchBatch, outboxPending, type Counted, type Fanout } from './dispatch-outbox.js';
import { SchedulerAway, type Scheduler } from './scheduler.js';

/** The worker looks for undispatched events this often while events keep coming, and every
 *  OUTBOX_IDLE_POLL_MS once none has come for OUTBOX_QUIET_MS: an idle poll's allocations kept V8
 *  from ever handing back a burst's heap (bench/changes.md, bench/idle.ts). A new approval's timer
 *  and channel message wait at most 50 ms, or 250 ms after a quiet spell. */
const OUTBOX_POLL_MS = 50;
const OUTBOX_IDLE_POLL_MS = 250;
const OUTBOX_QUIET_MS = 10_000;

export interface OutboxLoop {
  /** Fans out every undispatched event, batch by batch. */
  dispatch(): Promise<void>;
  /** Starts the poll; returns its stop. */
  poll(): () => void;
}

export function outboxLoop(deps: Deps, scheduler: Scheduler, warn: (err: Error, msg: string) => void): OutboxLoop {
  const horizon = horizonMs(deps.config.sweepIntervalMs);
  const arm = async (fan: Fanout) => {
    if (!scheduler.ready) throw new SchedulerAway();
    await armDeliveries(scheduler, fan.deliveries);
    // Far-off deadlines are left to the sweep, as for approvals with no event.
    await armTimers(
      scheduler,
      fan.requested.filter((a) => a.expires_at.getTime() < Date.now() + horizon),
    );
    await armSends(scheduler, fan.sends);
    await armOutcomes(scheduler, fan.outcomes);
    await armProgress(scheduler, fan.progress);
  };
  /** When the outbox last had events: the poll slows down after a quiet spell. */
  let lastEventAt = Date.now();
  const dispatch = coalesced(async () => {
    try {
      for (;;) {
        const fan = await dispatchBatch(deps);
        if (fan.events === 0) return;
        lastEventAt = Date.now();
        count(deps.metrics, fan.counted);
        await arm(fan);
        // A short batch emptied the outbox (but for rows another worker holds): reading again would
        // cost an empty transaction per wake-up, three round trips per decision at 100 a second.
        if (fan.events < BATCH) return;
      }
    } catch (err) {
      warn(err as Error, 'outbox fan-out failed; the sweep retries');
    }
  });
  // Coalesced: with Postgres slow or away, polls do not pile up behind one another.
  let lastPollAt = 0;
  const pollOnce = coalesced(async () => {
    const now = Date.now();
    if (now - lastEventAt > OUTBOX_QUIET_MS && now - lastPollAt < OUTBOX_IDLE_POLL_MS) return;
    lastPollAt = now;
    if (await outboxPending(deps).catch(() => false)) await dispatch();
  });
  return {
    dispatch,
    poll() {
      const timer = setInterval(() => void pollOnce(), OUTBOX_POLL_MS);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

function count(metrics: Metrics, events: Counted[]): void {
  for (const e of events) {
    if (e.type === 'pause_request.timed_out') metrics.approvalsTimedOut.inc({ channel: e.channel });
    else {
      metrics.approvalsDecided.inc({ channel: e.channel, via: e.via ?? 'unknown' });
      if (e.seconds !== null) metrics.decisionSeconds.observe({ channel: e.channel }, Math.max(0, e.seconds));
    }
  }
}
