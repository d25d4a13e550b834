// The timeout of one approval, fired by a scheduled job at expires_at. The decision itself is
// a conditional UPDATE (expireApprovals), so a timer that fires twice, or races an answer, is
// harmless. Timers firing together are committed together (batched): a thousand due in the same
// second cost a handful of transactions, not a thousand queued for Postgres' NOTIFY commit lock.
import { sql } from 'kysely';
import { expireApprovals } from '../src/approvals/decide.js';
import { batchedPerDb, type Db } from '../src/db/index.js';
import type { Deps } from '../src/deps.js';
import { timerJob } from './arm.js';
import type { Processor, Scheduler } from './scheduler.js';

export type ExpireResult = 'expired' | 'settled' | { rearmAt: Date };

/** Links are the same for every approval of one database (config), so a batch takes its first's. */
const expire = batchedPerDb(async (db: Db, items: { id: string; links: Deps['approvals'] }[]) => {
  const done = await expireApprovals(
    db,
    items.map((i) => i.id),
    items[0]!.links,
  );
  return items.map((i) => done.has(i.id));
});

/** Timer jobs starting together read their approvals together: a burst of 1,000 due in the same
 *  second is a few queries, not 1,000 queued on the pool (which made the last ones start late). */
const readDue = batchedPerDb(async (db: Db, ids: string[]) => {
  const rows = await db
    .selectFrom('approvals')
    .select(['id', 'status', 'expires_at'])
    .where('id', '=', sql<string>`any(${ids}::uuid[])`)
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id));
});

export async function expireJob(deps: Pick<Deps, 'db' | 'approvals'>, approvalId: string): Promise<ExpireResult> {
  const row = await readDue(deps.db, approvalId);
  if (!row || row.status !== 'pending') return 'settled';
  const wait = row.expires_at.getTime() - Date.now();
  // Fired well before its time (re-armed from an old schedule): come back at the right time.
  if (wait > 2_000) return { rearmAt: row.expires_at };
  // setTimeout may fire a millisecond early; the decision requires expires_at <= now.
  while (Date.now() < row.expires_at.getTime())
    await new Promise((resolve) => setTimeout(resolve, row.expires_at.getTime() - Date.now() + 1));
  return (await expire(deps.db, { id: approvalId, links: deps.approvals })) ? 'expired' : 'settled';
}

/** The timers queue. Each job sleeps up to TIMER_LEAD_MS before its deadline, so the slots must
 *  cover the due rate times the lead (bench/timeouts.ts). A sleeping job costs a timer and a share
 *  of one lock-renewal call. */
export function timerProcessor(deps: Pick<Deps, 'db' | 'approvals'>, scheduler: Scheduler): Processor {
  return {
    concurrency: 1_000,
    run: async (job) => {
      const result = await expireJob(deps, job.data.approvalId);
      if (typeof result === 'object') await scheduler.arm('timers', [timerJob(job.data.approvalId, result.rearmAt)]);
      return result;
    },
  };
}
