// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  // Inbound vendor requests already handled (Slack event ids and signatures, Telegram update ids,
  // Twilio message SIDs): a replay or a vendor retry of a handled request changes nothing.
  await db.schema
    .createTable('inbound_requests')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('received_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('inbound_requests_pk', ['source', 'key'])
    .execute();
  await db.schema.createIndex('inbound_requests_received_idx').on('inbound_requests').column('received_at').execute();

  // One-time codes a member redeems from a chat surface to link that identity (/leash link CODE).
  // Only a hash is stored: the code is a short-lived credential.
  await db.schema
    .createTable('link_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('member_id', 'uuid', (c) => c.notNull().references('members.id').onDelete('cascade'))
    .addColumn('expires_at', ts, (c) => c.notNull())
    .addColumn('used_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('link_codes').ifExists().execute();
  await db.schema.dropTable('inbound_requests').ifExists().execute();
}
