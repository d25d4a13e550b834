// Turns outbox rows into `events` jobs. The job id is the outbox id, so relaying a row twice is
// harmless. `fresh`: rows never enqueued (woken by NOTIFY at commit). `stale`: also rows enqueued
// over a minute ago and still not dispatched (Redis may have lost them). `all`: every row not yet
// dispatched (after Redis was found emptied).
import type { Queue } from 'bullmq';
import type { Deps } from '../src/deps.js';

const BATCH = 500;
const STALE_AFTER_MS = 60_000;

export async function relayOutbox(deps: Pick<Deps, 'db'>, queue: Queue, mode: 'fresh' | 'stale' | 'all'): Promise<number> {
  let total = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await deps.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('outbox')
        .select(['id', 'type'])
        .where('dispatched_at', 'is', null)
        .where('id', '>', after)
        .where((eb) =>
          mode === 'fresh'
            ? eb('enqueued_at', 'is', null)
            : mode === 'stale'
              ? eb.or([eb('enqueued_at', 'is', null), eb('enqueued_at', '<', new Date(Date.now() - STALE_AFTER_MS))])
              : eb.lit(true),
        )
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return rows;
      await queue.addBulk(
        rows.map((r) => ({
          name: r.type,
          data: { outboxId: r.id },
          opts: { jobId: r.id, attempts: 10, backoff: { type: 'exponential', delay: 500 } },
        })),
      );
      await tx
        .updateTable('outbox')
        .set({ enqueued_at: new Date() })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      return rows;
    });
    total += rows.length;
    if (rows.length < BATCH) return total;
    after = rows[rows.length - 1]!.id;
  }
}
