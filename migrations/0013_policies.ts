// Approval policies (contract §3.1): a quorum for the first option (its votes in a table, one row
// per distinct decider, so concurrent votes cannot lose or double one), escalation steps and a
// reminder (each a prompt of its own, queued for its time, so the worker arms, re-arms and skips it
// exactly like any question it sends).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table approvals add column approvals_required int not null default 1,
            add column escalation jsonb,
            add column remind_after_seconds int`.execute(db);
  await sql`create table approval_votes (
    id uuid primary key,
    approval_id uuid not null references approvals (id) on delete cascade,
    decider text not null,
    choice text not null,
    text text,
    channel text not null,
    member_id uuid,
    display text not null,
    created_at timestamptz not null default now(),
    unique (approval_id, decider)
  )`.execute(db);
  await sql`alter table prompts add column kind text not null default 'question',
            add column step int`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table prompts drop column kind, drop column step`.execute(db);
  await sql`drop table approval_votes`.execute(db);
  await sql`alter table approvals drop column approvals_required, drop column escalation, drop column remind_after_seconds`.execute(
    db,
  );
}
