// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

// Millisecond precision: JavaScript dates round-trip exactly, so API times equal stored times.
const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('members')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('owner', 'approver', 'viewer')`))
    .addColumn('display_name', 'text')
    .addColumn('phone', 'text')
    .addColumn('slack_team_id', 'text')
    .addColumn('slack_user_id', 'text')
    .addColumn('telegram_user_id', 'text')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('members_slack_pair', sql`(slack_team_id is null) = (slack_user_id is null)`)
    .execute();
  // One identity belongs to at most one member per workspace (contract §3.7). Cross-workspace
  // lookups by identity (chat adapters) use the same indexes through their leading columns.
  await sql`create unique index members_email_uq on members (workspace_id, lower(email))`.execute(db);
  await sql`create unique index members_phone_uq on members (phone, workspace_id) where phone is not null`.execute(db);
  await sql`create unique index members_slack_uq on members (slack_team_id, slack_user_id, workspace_id) where slack_user_id is not null`.execute(
    db,
  );
  await sql`create unique index members_telegram_uq on members (telegram_user_id, workspace_id) where telegram_user_id is not null`.execute(
    db,
  );

  await db.schema
    .createTable('agents')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text')
    // The run state and the pause are independent; the API's `status` is derived from both.
    .addColumn('run_state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('running')
        .check(sql`run_state in ('running', 'stopping', 'stopped')`),
    )
    .addColumn('pause_mode', 'text', (c) => c.check(sql`pause_mode in ('send', 'full')`))
    .addColumn('paused_at', ts)
    .addColumn('pause_by', 'jsonb')
    .addColumn('pause_reason', 'text')
    .addColumn('stop_deadline', ts)
    .addColumn('stopped_at', ts)
    .addColumn('delivery_url', 'text')
    .addColumn('delivery_secret', 'text')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    // Deleted agents are kept so their timeline stays readable to auditors.
    .addColumn('deleted_at', ts)
    .addCheckConstraint('agents_pause_complete', sql`(pause_mode is null) = (paused_at is null)`)
    .execute();
  await sql`create unique index agents_name_uq on agents (workspace_id, name) where deleted_at is null`.execute(db);

  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('prefix', 'text', (c) => c.notNull().unique())
    .addColumn('key_hash', 'bytea', (c) => c.notNull())
    .addColumn('member_id', 'uuid', (c) => c.references('members.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('cascade'))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', ts)
    .addCheckConstraint('api_keys_one_principal', sql`(member_id is null) <> (agent_id is null)`)
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('task', 'text')
    .addColumn('metadata', 'json')
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('running', 'paused', 'cancelled', 'completed')`),
    )
    .addColumn('paused_at', ts)
    .addColumn('finished_at', ts)
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('sessions_agent_idx').on('sessions').columns(['agent_id', 'id']).execute();
  await db.schema.createIndex('sessions_workspace_idx').on('sessions').columns(['workspace_id', 'id']).execute();

  // Append-only. IDs are UUIDv7, so ordering by id is ordering by time.
  await db.schema
    .createTable('activity')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid', (c) => c.references('agents.id').onDelete('cascade'))
    .addColumn('session_id', 'uuid')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor', 'jsonb', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('activity_agent_idx').on('activity').columns(['agent_id', 'id']).execute();
  await db.schema.createIndex('activity_workspace_idx').on('activity').columns(['workspace_id', 'id']).execute();

  // Events committed with the state change that caused them; the worker turns them into jobs.
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('agent_id', 'uuid')
    .addColumn('type', 'text', (c) => c.notNull())
    // json, not jsonb: event bodies keep the key order of the objects they carry (metadata).
    .addColumn('payload', 'json', (c) => c.notNull())
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('dispatched_at', ts)
    .execute();
  await sql`create index outbox_pending_idx on outbox (id) where dispatched_at is null`.execute(db);

  await db.schema
    .createTable('idempotency_keys')
    .addColumn('principal_id', 'uuid', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('response', 'jsonb')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['principal_id', 'key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'idempotency_keys',
    'outbox',
    'activity',
    'sessions',
    'api_keys',
    'agents',
    'members',
    'workspaces',
  ]) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
