// The delivery_url drain's fence. A drain posts a run of messages under a transaction-scoped
// advisory lock on its agent (its lease); any change that ends what it may post — a pause mode, the
// run state, the URL or its secret, a deletion — takes the same lock in a trigger, so it commits
// only once the lease is given back, and a lease taken after it sees it. Nothing is posted after
// such a change commits, without a read of the agent before every POST (docs/architecture.md).
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function leash_drain_fence() returns trigger language plpgsql as $$
    begin
      perform pg_advisory_xact_lock(6582894, hashtext(old.id::text));
      return case when tg_op = 'DELETE' then old else new end;
    end $$`.execute(db);
  await sql`
    create trigger agents_drain_fence
    before update of pause_mode, run_state, delivery_url, delivery_secret, deleted_at on agents
    for each row
    when (old.pause_mode is distinct from new.pause_mode or old.run_state is distinct from new.run_state
       or old.delivery_url is distinct from new.delivery_url or old.delivery_secret is distinct from new.delivery_secret
       or old.deleted_at is distinct from new.deleted_at)
    execute function leash_drain_fence()`.execute(db);
  await sql`
    create trigger agents_drain_fence_delete before delete on agents
    for each row execute function leash_drain_fence()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger agents_drain_fence_delete on agents`.execute(db);
  await sql`drop trigger agents_drain_fence on agents`.execute(db);
  await sql`drop function leash_drain_fence()`.execute(db);
}
