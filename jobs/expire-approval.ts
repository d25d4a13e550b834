// The timeout of one approval, fired by a BullMQ delayed job at expires_at. The decision itself is
// a conditional UPDATE (expireApprovals), so a timer that fires twice, or races an answer, is
// harmless. Timers firing together are committed together (batched): a thousand due in the same
// second cost a handful of transactions, not a thousand queued for Postgres' NOTIFY commit lock.
import { sql } from 'kysely';
import { expireApprovals } from '../src/approvals/decide.js';
import { batched } from '../src/coalesced.js';
import type { Db } from '../src/db/index.js';
import type { Deps } from '../src/deps.js';

export type ExpireResult = 'expired' | 'settled' | { rearmAt: Date };

type Expire = (id: string) => Promise<boolean | undefined>;
const expirers = new WeakMap<Db, Expire>();

function expirer(deps: Pick<Deps, 'db' | 'approvals'>): Expire {
  let expire = expirers.get(deps.db);
  if (!expire) {
    expire = batched(async (ids: string[]) => {
      const done = await expireApprovals(deps.db, ids, deps.approvals);
      return ids.map((id) => done.has(id));
    });
    expirers.set(deps.db, expire);
  }
  return expire;
}

type Due = { id: string; status: string; expires_at: Date };
const readers = new WeakMap<Db, (id: string) => Promise<Due | undefined>>();

/** Timer jobs starting together read their approvals together: a burst of 1,000 due in the same
 *  second is a few queries, not 1,000 queued on the pool (which made the last ones start late). */
function reader(db: Db): (id: string) => Promise<Due | undefined> {
  let read = readers.get(db);
  if (!read) {
    read = batched(async (ids: string[]) => {
      const rows = await db.selectFrom('approvals').select(['id', 'status', 'expires_at']).where('id', '=', sql<string>`any(${ids}::uuid[])`).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id));
    });
    readers.set(db, read);
  }
  return read;
}

export async function expireJob(deps: Pick<Deps, 'db' | 'approvals'>, approvalId: string): Promise<ExpireResult> {
  const row = await reader(deps.db)(approvalId);
  if (!row || row.status !== 'pending') return 'settled';
  const wait = row.expires_at.getTime() - Date.now();
  // Fired well before its time (re-armed from an old schedule): come back at the right time.
  if (wait > 2_000) return { rearmAt: row.expires_at };
  // setTimeout may fire a millisecond early; the decision requires expires_at <= now.
  while (Date.now() < row.expires_at.getTime()) await new Promise((resolve) => setTimeout(resolve, row.expires_at.getTime() - Date.now() + 1));
  return (await expirer(deps)(approvalId)) ? 'expired' : 'settled';
}
