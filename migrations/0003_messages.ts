// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  // The inbox counters live on the recipient's row: sending locks that row, so seq is gapless and
  // the backlog cap exact under any number of concurrent senders.
  await db.schema
    .alterTable('agents')
    .addColumn('inbox_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('acked_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    // When the oldest undelivered message arrived (null when none), kept by send and ack.
    .addColumn('backlog_since', ts)
    // The last inbox read: presence is "online" within 60 s of it (the stream will add open connections).
    .addColumn('last_seen_at', ts)
    .execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('recipient_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('sender_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('seq', 'bigint', (c) => c.notNull())
    // json, not jsonb: the body is returned exactly as sent.
    .addColumn('body', 'json', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('messages_recipient_seq_uq', ['recipient_id', 'seq'])
    .execute();

  await db.schema
    .createTable('blocks')
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('blocked_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('blocks_pk', ['agent_id', 'blocked_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('blocks').ifExists().execute();
  await db.schema.dropTable('messages').ifExists().execute();
  await db.schema
    .alterTable('agents')
    .dropColumn('inbox_seq')
    .dropColumn('acked_seq')
    .dropColumn('backlog_since')
    .dropColumn('last_seen_at')
    .execute();
}
