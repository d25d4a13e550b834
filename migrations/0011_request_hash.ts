// What exactly was asked, as a hash an agent can recompute (src/approvals/request-hash.ts). Rows
// from before it have none: the hash covers expires_at, which was never in a request.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table approvals add column request_hash text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table approvals drop column request_hash`.execute(db);
}
