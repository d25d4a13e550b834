// What the clean-up deletes: rows past their use, in batches, each its own short statement (a lock
// on a few thousand rows for milliseconds, never a table-wide one), each found in index order
// (a heap scan would pass every row an earlier batch deleted, again, until a vacuum).
// Rows another worker's clean-up holds are skipped, so workers running it at once share the work.
// The activity timeline is the audit and is kept. Retention is configurable (docs/operations.md).
import { sql, type RawBuilder } from 'kysely';
import type { Retention } from '../src/config.js';
import type { Db } from '../src/db/index.js';

interface Part {
  table: string;
  /** Selects, and locks, the ctids of up to `batch` rows to delete. */
  pick: (batch: number) => RawBuilder<unknown>;
}

const DAY_MS = 24 * 3600 * 1000;

/** The smallest UUIDv7 of a moment: ids are UUIDv7 made at insert, so an id range of the primary
 *  key is a time range, and the oldest rows are found without an index of their own. */
export function idBefore(daysAgo: number): string {
  const hex = Math.max(0, Date.now() - daysAgo * DAY_MS)
    .toString(16)
    .padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

function parts(r: Retention): Part[] {
  const expired = (table: string, column: string, after: RawBuilder<unknown>): Part => ({
    table,
    pick: (n) =>
      sql`select ctid from ${sql.table(table)} where ${sql.ref(column)} < now() - ${after}
        order by ${sql.ref(column)} limit ${n} for update skip locked`,
  });
  // By id for the index (UUIDv7 is time), and by created_at too: a row whose id is not a UUIDv7
  // (written by hand, or by another tool) must not pass for old.
  return [
    expired('idempotency_keys', 'created_at', sql`interval '24 hours'`),
    expired('inbound_requests', 'received_at', sql`make_interval(days => ${r.inboundDays})`),
    expired('link_codes', 'expires_at', sql`interval '1 day'`),
    expired('login_links', 'expires_at', sql`interval '1 day'`),
    expired('dashboard_sessions', 'expires_at', sql`interval '0'`),
    {
      // Deliveries settle within hours of their creation (the retry schedule): by id.
      table: 'deliveries',
      pick: (n) => sql`select ctid from deliveries where id < ${idBefore(r.deliveriesDays)}::uuid
        and created_at < now() - make_interval(days => ${r.deliveriesDays}) and status <> 'pending' order by id limit ${n} for update skip locked`,
    },
    {
      // An event a pending delivery still needs (its payload) stays.
      table: 'outbox',
      pick: (n) => sql`select o.ctid from outbox o where o.id < ${idBefore(r.deliveriesDays)}::uuid
        and o.created_at < now() - make_interval(days => ${r.deliveriesDays}) and o.dispatched_at is not null
        and not exists (select 1 from deliveries d where d.status = 'pending' and d.event_id = o.id)
        order by o.id limit ${n} for update of o skip locked`,
    },
    {
      // Acknowledged (at or below the recipient's acked_seq) and old; a held or unread one is kept.
      table: 'messages',
      pick: (n) => sql`select m.ctid from messages m join agents a on a.id = m.recipient_id
        where m.id < ${idBefore(r.messagesDays)}::uuid and m.seq <= a.acked_seq
          and m.created_at < now() - make_interval(days => ${r.messagesDays})
        order by m.id limit ${n} for update of m skip locked`,
    },
  ];
}

/** Deletes one batch of `part`; the rows deleted. */
async function deleteBatch(db: Db, part: Part, batch: number): Promise<number> {
  // Committed asynchronously (no wait for the WAL flush): a deletion lost in a crash is only done
  // again by the next run.
  const { rows } = await sql<{ n: number }>`with deleted as (
      delete from ${sql.table(part.table)} where ctid = any(array(${part.pick(batch)})) returning 1
    ) select count(*)::int as n, set_config('synchronous_commit', 'off', true) as async_commit from deleted`.execute(
    db,
  );
  return rows[0]?.n ?? 0;
}

/** Runs every part until a batch comes back short, or `budgetMs` is spent (the rest waits for the
 *  next run). Returns the rows deleted per table. */
export async function cleanUp(db: Db, retention: Retention, budgetMs = 10_000): Promise<Record<string, number>> {
  const deleted: Record<string, number> = {};
  const until = Date.now() + budgetMs;
  for (const part of parts(retention)) {
    for (;;) {
      const n = await deleteBatch(db, part, retention.batch);
      if (n) deleted[part.table] = (deleted[part.table] ?? 0) + n;
      if (n < retention.batch || Date.now() > until) break;
    }
  }
  return deleted;
}
