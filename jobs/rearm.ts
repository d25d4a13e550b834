// Arming from Postgres, the record: what is due (the sweep), what woke (a drain), or everything
// (after the scheduler lost its jobs). Each query's rows go to jobs/arm.ts.
import { sql } from 'kysely';
import type { Db } from '../src/db/index.js';
import { armDeliveries, armDrains, armOutcomes, armSends, armTimers } from './arm.js';
import type { Scheduler } from './scheduler.js';

const CHUNK = 1_000;
const MOST = 10_000;

/** Prompts whose send or outcome update was due `overdueMs` ago or more (the scheduler lost its job,
 *  or arming it failed); `all`: every one, each at its time (the re-arm). */
export async function armDuePrompts(db: Db, s: Scheduler, overdueMs: number | 'all'): Promise<number> {
  const before = overdueMs === 'all' ? undefined : new Date(Date.now() - overdueMs);
  let sends = db.selectFrom('prompts').select(['id', 'attempts', 'next_attempt_at']).where('status', '=', 'queued');
  if (before) sends = sends.where('next_attempt_at', '<=', before);
  const dueSends = await sends.orderBy('next_attempt_at').limit(MOST).execute();
  await armSends(s, dueSends);
  let outcomes = db
    .selectFrom('prompts')
    .select(['id', 'outcome_attempts', 'outcome_next_at'])
    .where('outcome_at', 'is', null)
    .where('outcome_next_at', 'is not', null);
  if (before) outcomes = outcomes.where('outcome_next_at', '<=', before);
  const dueOutcomes = await outcomes.orderBy('outcome_next_at').limit(MOST).execute();
  await armOutcomes(s, dueOutcomes);
  return dueSends.length + dueOutcomes.length;
}

const deliveryColumns = ['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'] as const;

/** Deliveries whose attempt is due (by `overdueMs` or more), or every pending one (`all`). */
export async function armDueDeliveries(db: Db, s: Scheduler, overdueMs: number | 'all'): Promise<number> {
  let q = db.selectFrom('deliveries').select(deliveryColumns).where('status', '=', 'pending');
  if (overdueMs !== 'all') {
    q = q
      .where('next_attempt_at', '<=', new Date(Date.now() - overdueMs))
      .orderBy('next_attempt_at')
      .limit(MOST);
  }
  const rows = await q.execute();
  await armDeliveries(s, rows);
  return rows.length;
}

/** The next pending delivery of one agent (its events go one at a time, in order). */
export async function armNextAgentDelivery(db: Db, s: Scheduler, agentId: string): Promise<void> {
  const next = await db
    .selectFrom('deliveries')
    .select(deliveryColumns)
    .where('agent_id', '=', agentId)
    .where('status', '=', 'pending')
    .orderBy('event_id')
    .limit(1)
    .executeTakeFirst();
  if (next) await armDeliveries(s, [next]);
}

/** One delivery's next attempt, after a try that failed. */
export async function armDeliveryRetry(db: Db, s: Scheduler, deliveryId: string): Promise<void> {
  const row = await db.selectFrom('deliveries').select(deliveryColumns).where('id', '=', deliveryId).executeTakeFirst();
  if (row) await armDeliveries(s, [row]);
}

/**
 * Drains for agents whose delivery_url has messages waiting and may take them now (not fully
 * paused, not stopped), at their backoff time if the last attempt failed. `agentIds` narrows it to
 * agents just woken; without it, every agent (the sweep and the re-arm).
 */
export async function armDueDrains(db: Db, s: Scheduler, agentIds?: string[]): Promise<number> {
  if (agentIds?.length === 0) return 0;
  let q = db
    .selectFrom('agents')
    .select(['id', 'drain_retry_at'])
    .where('delivery_url', 'is not', null)
    .where('deleted_at', 'is', null)
    .where('run_state', '!=', 'stopped')
    .where((eb) => eb.or([eb('pause_mode', 'is', null), eb('pause_mode', '!=', 'full')]))
    .whereRef('acked_seq', '<', 'inbox_seq');
  if (agentIds) q = q.where('id', 'in', agentIds);
  const rows = await q.execute();
  await armDrains(s, rows);
  return rows.length;
}

/** Timers of pending approvals due in [from, until): the sweep arms each as it comes within the
 *  horizon (src/timer-horizon.ts); job ids make the overlap between sweeps harmless. */
export async function armTimersDue(db: Db, s: Scheduler, from: Date, until: Date): Promise<number> {
  let armed = 0;
  let after: { expires_at: Date; id: string } | undefined;
  for (;;) {
    let q = db
      .selectFrom('approvals')
      .select(['id', 'expires_at'])
      .where('status', '=', 'pending')
      .where('expires_at', '>=', from)
      .where('expires_at', '<', until);
    if (after) q = q.where(sql<boolean>`(expires_at, id) > (${after.expires_at}, ${after.id}::uuid)`);
    const rows = await q.orderBy('expires_at').orderBy('id').limit(CHUNK).execute();
    await armTimers(s, rows);
    armed += rows.length;
    if (rows.length < CHUNK) return armed;
    after = rows[rows.length - 1]!;
  }
}

/** After the scheduler lost its jobs: every timer due before `until`, every pending delivery,
 *  every prompt's send or outcome update, every drain, from Postgres. */
export async function rearmEverything(db: Db, s: Scheduler, until: Date) {
  return {
    timers: await armTimersDue(db, s, new Date(0), until),
    deliveries: await armDueDeliveries(db, s, 'all'),
    prompts: await armDuePrompts(db, s, 'all'),
    drains: await armDueDrains(db, s),
  };
}
