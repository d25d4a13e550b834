// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  // A prompt is the question as sent to one recipient on one channel (Slack, Telegram, SMS, email),
  // and later updated to the outcome. Its state is the record of that work, as a delivery row is
  // for a webhook: the worker retries from it until the question is sent or the approval leaves
  // pending, and the sweep re-arms whatever Redis lost. One approval has one prompt today;
  // escalations add more.
  await db.schema
    .createTable('prompts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('approval_id', 'uuid', (c) => c.notNull().references('approvals.id').onDelete('cascade'))
    .addColumn('workspace_id', 'uuid', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('queued')
        .check(sql`status in ('queued', 'sent', 'failed', 'skipped')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    // A send in progress: another job for the same prompt waits it out rather than sending twice.
    .addColumn('claimed_at', ts)
    .addColumn('last_error', 'text')
    .addColumn('sent_at', ts)
    // Where it went (channel and message ids, an SMS reply code): what an outcome update edits.
    .addColumn('ref', 'jsonb')
    // The outcome update, once the approval has left pending: due at outcome_next_at, done (or
    // given up as pointless) at outcome_at.
    .addColumn('outcome_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('outcome_next_at', ts)
    .addColumn('outcome_at', ts)
    .addColumn('outcome_error', 'text')
    .addColumn('created_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('prompts_approval_idx').on('prompts').column('approval_id').execute();
  await sql`create index prompts_queued_idx on prompts (next_attempt_at) where status = 'queued'`.execute(db);
  await sql`create index prompts_outcome_due_idx on prompts (outcome_next_at) where outcome_at is null and outcome_next_at is not null`.execute(
    db,
  );
  // SMS replies find the prompts sent to a phone (and their reply codes).
  await db.schema.createIndex('prompts_recipient_idx').on('prompts').columns(['channel', 'recipient']).execute();

  // MAX_PENDING_PER_RECIPIENT counts a recipient's pending approvals at every create (web
  // approvals notify nobody and are not counted).
  await sql`create index approvals_pending_recipient_idx on approvals (workspace_id, channel, recipient) where status = 'pending' and channel <> 'web'`.execute(
    db,
  );

  // What approvals kept of their one message moves to its prompt.
  await sql`
    insert into prompts (id, approval_id, workspace_id, channel, recipient, status, sent_at, ref, last_error, outcome_next_at, outcome_at, created_at, updated_at)
    select gen_random_uuid(), a.id, a.workspace_id, a.channel, a.recipient,
      case
        when a.channel_ref ? 'failed' then 'failed'
        when a.channel_ref is not null and a.status = 'pending' then 'sent'
        when a.channel_ref is not null and a.channel_ref <> '{}'::jsonb then 'sent'
        when a.status = 'pending' then 'queued'
        else 'skipped'
      end,
      case when a.channel_ref is not null and not a.channel_ref ? 'failed' and a.channel_ref <> '{}'::jsonb then a.updated_at end,
      a.channel_ref, a.channel_ref->>'failed',
      case when a.status <> 'pending' then coalesce(a.channel_settled_at, now()) end,
      case when a.status <> 'pending' and (a.channel_settled_at is not null or a.channel_ref is null) then coalesce(a.channel_settled_at, now()) end,
      a.created_at, a.updated_at
    from approvals a where a.channel <> 'web'`.execute(db);
  await db.schema.alterTable('approvals').dropColumn('channel_ref').dropColumn('channel_settled_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('approvals')
    .addColumn('channel_ref', 'jsonb')
    .addColumn('channel_settled_at', ts)
    .execute();
  await sql`update approvals a set channel_ref = p.ref, channel_settled_at = p.outcome_at from prompts p where p.approval_id = a.id`.execute(
    db,
  );
  await db.schema.dropTable('prompts').ifExists().execute();
  await sql`drop index if exists approvals_pending_recipient_idx`.execute(db);
}
