// The timeout of one approval, fired by a BullMQ delayed job at expires_at. The decision itself is
// expireApproval's conditional UPDATE, so a timer that fires twice, or races an answer, is harmless.
import { expireApproval } from '../src/approvals/decide.js';
import type { Deps } from '../src/deps.js';

export type ExpireResult = 'expired' | 'settled' | { rearmAt: Date };

export async function expireJob(deps: Pick<Deps, 'db' | 'approvals'>, approvalId: string): Promise<ExpireResult> {
  const row = await deps.db.selectFrom('approvals').select(['status', 'expires_at']).where('id', '=', approvalId).executeTakeFirst();
  if (!row || row.status !== 'pending') return 'settled';
  const wait = row.expires_at.getTime() - Date.now();
  // Fired well before its time (re-armed from an old schedule): come back at the right time.
  if (wait > 2_000) return { rearmAt: row.expires_at };
  // setTimeout may fire a millisecond early; the decision requires expires_at <= now.
  while (Date.now() < row.expires_at.getTime()) await new Promise((resolve) => setTimeout(resolve, row.expires_at.getTime() - Date.now() + 1));
  return (await expireApproval(deps.db, approvalId, deps.approvals)) ? 'expired' : 'settled';
}
