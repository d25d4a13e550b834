// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  // Open WebSocket streams, one row per connection, kept fresh by a heartbeat from the web process
  // that holds it. A crashed process leaves rows that simply go stale: "live" means seen recently.
  await db.schema
    .createTable('agent_streams')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('opened_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('seen_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('agent_streams_agent_idx').on('agent_streams').columns(['agent_id', 'seen_at']).execute();

  // The delivery_url drain's retry state lives with the inbox counters, so a Redis that forgets
  // re-arms the drain with its backoff intact.
  await db.schema
    .alterTable('agents')
    .addColumn('drain_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('drain_retry_at', ts)
    .addColumn('drain_error', 'text')
    .execute();

  // A stream reads the agent's own events (control frames) by agent and id.
  await sql`create index outbox_agent_idx on outbox (agent_id, id) where agent_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists outbox_agent_idx`.execute(db);
  await db.schema
    .alterTable('agents')
    .dropColumn('drain_failures')
    .dropColumn('drain_retry_at')
    .dropColumn('drain_error')
    .execute();
  await db.schema.dropTable('agent_streams').ifExists().execute();
}
