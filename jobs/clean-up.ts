// What the sweep deletes: rows past their use. The activity timeline is the audit and is kept.
import { sql } from 'kysely';
import type { Db } from '../src/db/index.js';

export async function cleanUp(db: Db): Promise<void> {
  await sql`delete from idempotency_keys where created_at < now() - interval '24 hours'`.execute(db);
  // Vendors re-send for minutes, not days: a week of inbound dedupe rows is plenty.
  await sql`delete from inbound_requests where received_at < now() - interval '7 days'`.execute(db);
  await sql`delete from link_codes where expires_at < now() - interval '1 day'`.execute(db);
  await sql`delete from login_links where expires_at < now() - interval '1 day'`.execute(db);
  await sql`delete from dashboard_sessions where expires_at < now()`.execute(db);
  await sql`delete from deliveries where status <> 'pending' and updated_at < now() - interval '30 days'`.execute(db);
  await sql`delete from outbox o where dispatched_at < now() - interval '30 days'
            and not exists (select 1 from deliveries d where d.event_id = o.id)`.execute(db);
}
