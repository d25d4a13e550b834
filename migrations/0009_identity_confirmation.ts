// Frozen: never edit a migration that has shipped; add a new one.
import { type Kysely, sql } from 'kysely';

const ts = sql`timestamptz(3)`;

export async function up(db: Kysely<any>): Promise<void> {
  // An identity an owner sets is only a claim: it acts once its holder confirms it from that
  // identity (a link code). Until then, another workspace's claim on someone's phone or chat
  // account changes nothing that person can do.
  await db.schema
    .alterTable('members')
    .addColumn('phone_confirmed_at', ts)
    .addColumn('slack_confirmed_at', ts)
    .addColumn('telegram_confirmed_at', ts)
    .execute();
  // A confirmation belongs to the identity it confirms: unlinking one clears it.
  await sql`
    alter table members
      add constraint members_phone_confirmed check (phone_confirmed_at is null or phone is not null),
      add constraint members_slack_confirmed check (slack_confirmed_at is null or slack_user_id is not null),
      add constraint members_telegram_confirmed check (telegram_confirmed_at is null or telegram_user_id is not null)`.execute(
    db,
  );

  // Identities linked before confirmation existed count as confirmed, except where members of
  // several workspaces hold the same one: that is the footprint of one workspace claiming
  // another's identity, and nothing tells which claim is the holder's. Those start unconfirmed,
  // and their holder confirms the right one with a link code.
  await sql`
    update members m set phone_confirmed_at = now()
    where m.phone is not null
      and not exists (select 1 from members o where o.phone = m.phone and o.workspace_id <> m.workspace_id)`.execute(
    db,
  );
  await sql`
    update members m set slack_confirmed_at = now()
    where m.slack_user_id is not null
      and not exists (
        select 1 from members o
        where o.slack_team_id = m.slack_team_id and o.slack_user_id = m.slack_user_id and o.workspace_id <> m.workspace_id
      )`.execute(db);
  await sql`
    update members m set telegram_confirmed_at = now()
    where m.telegram_user_id is not null
      and not exists (select 1 from members o where o.telegram_user_id = m.telegram_user_id and o.workspace_id <> m.workspace_id)`.execute(
    db,
  );

  // The workspace a person's chat commands go to when they are confirmed in several and name
  // none: chosen by that person, from that identity (`/use acme`). Keyed by the identity
  // ('slack:T…:U…', 'telegram:123', 'phone:+1555…'), not by a member, because it chooses between
  // members of different workspaces.
  await db.schema
    .createTable('identity_defaults')
    .addColumn('identity', 'text', (c) => c.primaryKey())
    .addColumn('workspace_id', 'uuid', (c) => c.notNull().references('workspaces.id').onDelete('cascade'))
    .addColumn('updated_at', ts, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('identity_defaults').ifExists().execute();
  // Dropping the columns drops their constraints.
  await db.schema
    .alterTable('members')
    .dropColumn('phone_confirmed_at')
    .dropColumn('slack_confirmed_at')
    .dropColumn('telegram_confirmed_at')
    .execute();
}
