// Timeout lateness: expires_at → the committed timed_out (response_at), read from the database.
import { stats, type Stats } from './lib.js';
import type { BenchLeash } from './leash.js';

export async function lateness(leash: BenchLeash, ids: string[]): Promise<{ s: Stats; pending: number }> {
  const rows = await leash.db
    .selectFrom('approvals')
    .select(['status', 'expires_at', 'response_at'])
    .where('id', 'in', ids)
    .execute();
  const pending = rows.filter((r) => r.status !== 'timed_out').length;
  return {
    s: stats(rows.filter((r) => r.response_at).map((r) => r.response_at!.getTime() - r.expires_at.getTime())),
    pending,
  };
}

export async function untilSettled(leash: BenchLeash, ids: string[], deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const left = await leash.db
      .selectFrom('approvals')
      .select('id')
      .where('id', 'in', ids)
      .where('status', '=', 'pending')
      .limit(1)
      .execute();
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}
