// Indexes for what grows: the clean-up finds expired idempotency keys by age (their key is the
// principal's), and /metrics counts recently failed deliveries without reading the settled ones.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index idempotency_keys_created_idx on idempotency_keys (created_at)`.execute(db);
  await sql`create index deliveries_failed_idx on deliveries (updated_at) where status = 'failed'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index deliveries_failed_idx`.execute(db);
  await sql`drop index idempotency_keys_created_idx`.execute(db);
}
