// Turns outbox rows into BullMQ jobs. The job id is the outbox id, so relaying the same row twice
// is harmless. `fresh` relays rows never enqueued (woken by NOTIFY at commit); `stale` also
// re-relays rows enqueued a minute ago and still not dispatched: Redis may have lost them.
import type { Queue } from 'bullmq';
import type { Deps } from '../src/deps.js';

const BATCH = 500;
const STALE_AFTER_MS = 60_000;

export async function relayOutbox(deps: Pick<Deps, 'db' | 'config'>, queue: Queue, mode: 'fresh' | 'stale'): Promise<number> {
  const attempts = deps.config.retryScheduleMs.length + 1;
  let total = 0;
  for (;;) {
    const n = await deps.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('outbox')
        .select(['id', 'type'])
        .where('dispatched_at', 'is', null)
        .where((eb) =>
          mode === 'fresh'
            ? eb('enqueued_at', 'is', null)
            : eb.or([eb('enqueued_at', 'is', null), eb('enqueued_at', '<', new Date(Date.now() - STALE_AFTER_MS))]),
        )
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return 0;
      await queue.addBulk(
        rows.map((r) => ({
          name: r.type,
          data: { outboxId: r.id },
          opts: {
            jobId: r.id,
            attempts,
            backoff: { type: 'custom' },
            removeOnComplete: true,
            removeOnFail: 1000,
          },
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
      return rows.length;
    });
    total += n;
    if (n < BATCH) return total;
  }
}
