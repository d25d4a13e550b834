// The sweep, every SWEEP_INTERVAL_MS: what the scheduler may have lost (or never got) is re-armed
// from Postgres, approvals long past due are timed out, and old rows are cleaned up. Its steps fail
// alone: with the scheduler away, the Postgres-only ones still run, so no timeout waits for it.
import { expireApprovals } from '../src/approvals/decide.js';
import { coalesced } from '../src/coalesced.js';
import type { Deps } from '../src/deps.js';
import { ARM_AHEAD_MS } from '../src/timer-horizon.js';
import { cleanUp } from './clean-up.js';
import { armDueDeliveries, armDueDrains, armDuePrompts, armTimersDue } from './rearm.js';
import { SchedulerAway, type Scheduler } from './scheduler.js';

/** Approvals this long past due whose timer did not fire are timed out by the sweep. */
const OVERDUE_MS = 5_000;
/** Work this overdue is taken as lost by the scheduler. */
const LOST_AFTER_MS = 30_000;

/** How far the timers are armed: deadlines before `until` were armed at `at`. */
export interface ArmedTimers {
  until: number;
  at: number;
}

export function sweeper(
  deps: Deps,
  scheduler: Scheduler,
  armed: ArmedTimers,
  horizon: number,
  warn: (err: Error, msg: string) => void,
) {
  const { db, log } = deps;
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      warn(err as Error, `sweep: ${what} failed; will retry`);
      return undefined;
    }
  };
  const needsScheduler = <T>(fn: () => Promise<T>) => {
    if (!scheduler.ready) throw new SchedulerAway();
    return fn();
  };
  const armTimers = async () => {
    // From where the last arming stopped, or ARM_AHEAD_MS after it ran if that is sooner (a web
    // approval created since then without an event is due at least that late, even when long
    // sweeps make the horizon longer), less a minute for a web process's clock skew.
    const now = Date.now();
    const from = new Date(Math.min(armed.until, armed.at + ARM_AHEAD_MS) - 60_000);
    await armTimersDue(db, scheduler, from, new Date(now + horizon));
    armed.until = now + horizon;
    armed.at = now;
  };
  // The safety net under the timers: nothing stays pending long past its deadline.
  const expireOverdue = async () => {
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
  };
  // The first sweep cleans up; then every CLEANUP_INTERVAL_SECONDS.
  let cleanupDue = 0;
  return coalesced(async () => {
    const deliveries = await step('arming deliveries', () =>
      needsScheduler(() => armDueDeliveries(db, scheduler, LOST_AFTER_MS)),
    );
    // A question or an outcome update whose job the scheduler lost is retried from its row.
    const prompts = await step('arming prompts', () =>
      needsScheduler(() => armDuePrompts(db, scheduler, LOST_AFTER_MS)),
    );
    await step('arming timers', () => needsScheduler(armTimers));
    await step('arming drains', () => needsScheduler(() => armDueDrains(db, scheduler)));
    const expired = await step('expiring overdue approvals', expireOverdue);
    if (deliveries || prompts || expired) log.info({ deliveries, prompts, expired }, 'sweep re-armed work');
    if (Date.now() >= cleanupDue) {
      cleanupDue = Date.now() + deps.config.cleanup.intervalMs;
      const deleted = await step('clean-up', () => cleanUp(db, deps.config.cleanup));
      if (deleted && Object.keys(deleted).length) log.info({ deleted }, 'clean-up deleted rows past their use');
    }
  });
}
