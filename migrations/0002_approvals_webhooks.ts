// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('approvals')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('cascade'))
    .addColumn('requested_by', 'jsonb', (c) => c.notNull())
    .addColumn('channel', 'text', (c) =>
      c.notNull().check(sql`channel in ('sms', 'email', 'slack', 'telegram', 'web')`),
    )
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('options', 'jsonb', (c) => c.notNull())
    .addColumn('allow_text_response', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('timeout_default', 'text')
    // json, not jsonb: metadata is returned exactly as written (jsonb would reorder its keys).
    .addColumn('metadata', 'json')
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'responded', 'timed_out', 'cancelled')`),
    )
    .addColumn('response_choice', 'text')
    .addColumn('response_text', 'text')
    .addColumn('response_at', ts)
    .addColumn('responder', 'jsonb')
    .addColumn('via_timeout', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('expires_at', ts, (c) => c.notNull())
    // Where a channel adapter put the question (Slack channel + ts, Telegram message id, …), so it
    // can edit it to show the outcome.
    .addColumn('channel_ref', 'jsonb')
    // When the channel's message was updated to show the outcome (re-armed from here if lost).
    .addColumn('channel_settled_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('approvals_workspace_idx').on('approvals').columns(['workspace_id', 'id']).execute();
  await db.schema.createIndex('approvals_agent_idx').on('approvals').columns(['agent_id', 'id']).execute();
  // The timer sweep reads pending approvals by deadline.
  await sql`create index approvals_pending_expiry_idx on approvals (expires_at) where status = 'pending'`.execute(db);

  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    // null: every event.
    .addColumn('events', sql`text[]`)
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('disabled_at', ts)
    .addColumn('disabled_reason', 'text')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', ts)
    .execute();
  await db.schema
    .createIndex('webhook_endpoints_workspace_idx')
    .on('webhook_endpoints')
    .columns(['workspace_id'])
    .execute();

  // One row per event per target: a workspace webhook endpoint, or an agent's delivery_url. Retries
  // are scheduled from here (next_attempt_at), so a Redis that forgets loses no delivery.
  await db.schema
    .createTable('deliveries')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('event_id', 'uuid', (c) => c.notNull())
    .addColumn('event_type', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'uuid', (c) => c.references('webhook_endpoints.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'succeeded', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', ts)
    .addCheckConstraint('deliveries_one_target', sql`(endpoint_id is null) <> (agent_id is null)`)
    .execute();
  await sql`create unique index deliveries_endpoint_event_uq on deliveries (endpoint_id, event_id) where endpoint_id is not null`.execute(
    db,
  );
  await sql`create unique index deliveries_agent_event_uq on deliveries (agent_id, event_id) where agent_id is not null`.execute(
    db,
  );
  await db.schema.createIndex('deliveries_endpoint_idx').on('deliveries').columns(['endpoint_id', 'id']).execute();
  await sql`create index deliveries_pending_idx on deliveries (next_attempt_at) where status = 'pending'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['deliveries', 'webhook_endpoints', 'approvals']) await db.schema.dropTable(t).ifExists().execute();
}
