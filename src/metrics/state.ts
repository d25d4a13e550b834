// The cluster-wide gauges, read in one statement when /metrics is scraped. Each part reads a
// partial index (pending approvals, undispatched events, pending and failed deliveries) or the
// agents table, so a scrape costs the same with a year of settled rows behind it.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { ClusterState } from './metrics.js';

export async function readClusterState(db: Db): Promise<ClusterState> {
  const { rows } = await sql<Record<keyof ClusterState, string | number | null>>`
    select
      (select count(*) from approvals where status = 'pending') as "approvalsPending",
      (select count(*) from approvals where status = 'pending' and expires_at < now() + interval '10 minutes') as "approvalsExpiringSoon",
      (select coalesce(extract(epoch from now() - min(created_at)), 0) from outbox where dispatched_at is null) as "outboxLagSeconds",
      (select count(*) from outbox where dispatched_at is null) as "outboxUndispatched",
      (select count(*) from deliveries where status = 'pending') as "deliveriesPending",
      (select count(*) from deliveries where status = 'failed' and updated_at > now() - interval '24 hours') as "deliveriesFailedRecently",
      (select coalesce(sum(inbox_seq - acked_seq), 0) from agents where inbox_seq > acked_seq) as "inboxBacklog",
      (select coalesce(max(inbox_seq - acked_seq), 0) from agents where inbox_seq > acked_seq) as "inboxBacklogMax"
  `.execute(db);
  const r = rows[0]!;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v ?? 0)])) as unknown as ClusterState;
}
