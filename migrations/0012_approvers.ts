// Who may decide one question (src/approvals/deciders.ts): the listed approvers' member ids, and
// whether the recipient is one of them (then the response page's link counts as theirs).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table approvals add column approvers jsonb,
            add column recipient_approves boolean not null default false`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table approvals drop column approvers, drop column recipient_approves`.execute(db);
}
