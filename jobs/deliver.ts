// One delivery attempt: a signed POST of an outbox event to a webhook endpoint or to an agent's
// delivery_url. The row is the record: attempts, next_attempt_at and the outcome are written
// here, and the next attempt is a new delayed job named after the attempt number, so retries
// survive a Redis that forgets (the sweep re-arms overdue rows).
import { sql } from 'kysely';
import { batchedPerDb, type Db } from '../src/db/index.js';
import type { Deps } from '../src/deps.js';
import { DeliveryError, signedPost } from '../src/delivery/signed-post.js';
import { retryDelay } from './backoff.js';
import { armDeliveryRetry, armNextAgentDelivery } from './rearm.js';
import { RunAgain, type Processor, type Scheduler } from './scheduler.js';
import { AGENT_EVENTS } from '../src/webhooks/events.js';

export type AttemptResult =
  | { outcome: 'skipped' }
  /** An earlier event to the same agent is still pending: this one goes after it. */
  | { outcome: 'blocked' }
  /** `agentId`: an agent's runtime whose next event may go now. */
  | { outcome: 'succeeded' | 'failed'; status?: number; agentId?: string }
  | { outcome: 'retry'; at: Date; attempts: number };

export interface Success {
  id: string;
  attempts: number;
  status: number;
}

/** The statement that records a batch of successes. Each row is found by its id: the pending
 *  condition is written `is true` so the planner cannot take the pending-deliveries index instead.
 *  With statistics from a quieter moment (a burst is thousands pending before autovacuum analyzes)
 *  it did, and every batch of a few read every pending row (2,000–6,000 in the fan-out bench) to find its own. */
export function recordSuccesses(rows: Success[]) {
  return sql`update deliveries d set status = 'succeeded', attempts = v.attempts, last_status = v.status, last_error = null,
               delivered_at = now(), updated_at = now()
             from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.attempts)}::int[], ${rows.map((r) => r.status)}::int[]) as v(id, attempts, status)
             where d.id = v.id and (d.status = 'pending') is true`;
}

/** Successes are written in batches (one UPDATE and one commit for all the deliveries that
 *  finished meanwhile), per database: at fan-out rates the per-row commit was the bottleneck. */
const writeSuccess = batchedPerDb(async (db: Db, rows: Success[]) => {
  await recordSuccesses(rows).execute(db);
  return [];
});

/** The delivery, its event's payload and its target, read in one round trip for every attempt
 *  that starts while another read is out (at fan-out rates about eight: one statement, not eight). */
function readDeliveries(db: Db, ids: string[]) {
  return db
    .selectFrom('deliveries as d')
    .leftJoin('outbox as o', 'o.id', 'd.event_id')
    .leftJoin('webhook_endpoints as e', (j) => j.onRef('e.id', '=', 'd.endpoint_id').on('e.deleted_at', 'is', null))
    .leftJoin('agents as a', 'a.id', 'd.agent_id')
    .selectAll('d')
    .select([
      'o.payload',
      'e.url as endpoint_url',
      'e.secret as endpoint_secret',
      'a.delivery_url',
      'a.delivery_secret',
    ])
    .where('d.id', '=', sql<string>`any(${ids}::uuid[])`)
    .execute();
}
const readDelivery = batchedPerDb(async (db: Db, ids: string[]) => {
  const byId = new Map((await readDeliveries(db, ids)).map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id));
});

export async function attemptDelivery(deps: Pick<Deps, 'db' | 'config'>, deliveryId: string): Promise<AttemptResult> {
  const { db, config } = deps;
  const d = await readDelivery(db, deliveryId);
  // Already settled, or not due (a stale duplicate job): nothing to do.
  if (!d || d.status !== 'pending' || d.next_attempt_at.getTime() > Date.now() + 1_000) return { outcome: 'skipped' };
  // An agent's runtime gets its events in order (a retried agent.paused must not land after
  // agent.unpaused): one at a time, oldest event first. Settling one arms the next.
  // An earlier event not yet fanned out (another worker's open batch) blocks too: its delivery,
  // once settled, arms this one.
  if (d.agent_id) {
    const earlier = await db
      .selectFrom('deliveries')
      .select('id')
      .where('agent_id', '=', d.agent_id)
      .where('status', '=', 'pending')
      .where('event_id', '<', d.event_id)
      .unionAll(
        db
          .selectFrom('outbox')
          .select('id')
          .where('agent_id', '=', d.agent_id)
          .where('dispatched_at', 'is', null)
          .where('id', '<', d.event_id)
          .where('type', '~', AGENT_EVENTS),
      )
      .limit(1)
      .executeTakeFirst();
    if (earlier) return { outcome: 'blocked' };
  }
  const agentId = d.agent_id ?? undefined;
  const event = d.payload ? { payload: d.payload } : undefined;
  const target = d.endpoint_id
    ? d.endpoint_url && d.endpoint_secret && { url: d.endpoint_url, secret: d.endpoint_secret }
    : d.delivery_url && d.delivery_secret && { url: d.delivery_url, secret: d.delivery_secret };
  const attempts = d.attempts + 1;
  const giveUp = (fields: { last_status?: number | null; last_error: string }) =>
    db
      .updateTable('deliveries')
      .set({ status: 'failed', attempts, updated_at: new Date(), ...fields })
      .where('id', '=', d.id)
      .where('status', '=', 'pending')
      .execute();

  if (!event || !target) {
    await giveUp({ last_error: !event ? 'event no longer stored' : 'target removed' });
    return { outcome: 'failed', agentId };
  }
  try {
    const status = await signedPost({
      url: target.url,
      secret: target.secret,
      id: d.event_id,
      body: JSON.stringify(event.payload),
      allowPrivateUrls: config.allowPrivateUrls,
    });
    await writeSuccess(db, { id: d.id, attempts, status });
    return { outcome: 'succeeded', status, agentId };
  } catch (err) {
    const status = err instanceof DeliveryError ? err.status : undefined;
    const message = (err as Error).message.slice(0, 500);
    // 410 Gone: the receiver asks never to be called again (contract §5).
    if (status === 410 && d.endpoint_id) {
      await giveUp({ last_status: 410, last_error: 'endpoint answered 410 Gone; endpoint disabled' });
      await db
        .updateTable('webhook_endpoints')
        .set({ disabled_at: new Date(), disabled_reason: 'answered 410 Gone' })
        .where('id', '=', d.endpoint_id)
        .where('disabled_at', 'is', null)
        .execute();
      return { outcome: 'failed', status };
    }
    if (attempts > config.retryScheduleMs.length) {
      await giveUp({ last_status: status ?? null, last_error: message });
      return { outcome: 'failed', status, agentId };
    }
    const at = new Date(Date.now() + retryDelay(config.retryScheduleMs, attempts));
    await db
      .updateTable('deliveries')
      .set({ attempts, next_attempt_at: at, last_status: status ?? null, last_error: message, updated_at: new Date() })
      .where('id', '=', d.id)
      .where('status', '=', 'pending')
      .execute();
    return { outcome: 'retry', at, attempts };
  }
}

/** A slow target may hold at most this many delivery slots in this process; the rest wait. */
const PER_TARGET_IN_FLIGHT = 4;

/** The deliveries queue. A delivery of a crashed worker is retried within ~10 s (the lock is
 *  renewed while a POST runs, so a slow receiver keeps it). Running it twice is safe: the
 *  webhook-id is the event's, and receivers dedupe on it. */
export function deliveryProcessor(deps: Pick<Deps, 'db' | 'config' | 'metrics'>, scheduler: Scheduler): Processor {
  const inFlight = new Map<string, number>();
  return {
    concurrency: 32,
    lockMs: 5_000,
    run: async (job) => {
      const target: string = job.data.target ?? 'unknown';
      const busy = inFlight.get(target) ?? 0;
      if (busy >= PER_TARGET_IN_FLIGHT) throw new RunAgain(Date.now() + 50 + Math.floor(Math.random() * 100));
      inFlight.set(target, busy + 1);
      try {
        const result = await attemptDelivery(deps, job.data.deliveryId);
        if (result.outcome === 'succeeded' || result.outcome === 'retry' || result.outcome === 'failed')
          deps.metrics.deliveryAttempts.inc({ outcome: result.outcome });
        if (result.outcome === 'retry') await armDeliveryRetry(deps.db, scheduler, job.data.deliveryId);
        if ('agentId' in result && result.agentId) await armNextAgentDelivery(deps.db, scheduler, result.agentId);
        return result;
      } finally {
        const left = (inFlight.get(target) ?? 1) - 1;
        if (left > 0) inFlight.set(target, left);
        else inFlight.delete(target);
      }
    },
  };
}
