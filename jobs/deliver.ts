// One delivery attempt: a signed POST of an outbox event to a webhook endpoint or to an agent's
// delivery_url. The row is the record: attempts, next_attempt_at and the outcome are written
// here, and the next attempt is a new delayed job named after the attempt number, so retries
// survive a Redis that forgets (the sweep re-arms overdue rows).
import type { Deps } from '../src/deps.js';
import { DeliveryError, signedPost } from '../src/delivery/signed-post.js';
import { retryDelay } from '../src/queue.js';

export type AttemptResult =
  | { outcome: 'skipped' }
  /** An earlier event to the same agent is still pending: this one goes after it. */
  | { outcome: 'blocked' }
  /** `agentId`: an agent's runtime whose next event may go now. */
  | { outcome: 'succeeded' | 'failed'; status?: number; agentId?: string }
  | { outcome: 'retry'; at: Date; attempts: number };

interface Target {
  url: string;
  secret: string;
}

async function targetOf(deps: Pick<Deps, 'db'>, d: { endpoint_id: string | null; agent_id: string | null }): Promise<Target | undefined> {
  if (d.endpoint_id) {
    const e = await deps.db.selectFrom('webhook_endpoints').select(['url', 'secret', 'deleted_at']).where('id', '=', d.endpoint_id).executeTakeFirst();
    return e && !e.deleted_at ? { url: e.url, secret: e.secret } : undefined;
  }
  const a = await deps.db.selectFrom('agents').select(['delivery_url', 'delivery_secret']).where('id', '=', d.agent_id!).executeTakeFirst();
  return a?.delivery_url && a.delivery_secret ? { url: a.delivery_url, secret: a.delivery_secret } : undefined;
}

export async function attemptDelivery(deps: Pick<Deps, 'db' | 'config'>, deliveryId: string): Promise<AttemptResult> {
  const { db, config } = deps;
  const d = await db.selectFrom('deliveries').selectAll().where('id', '=', deliveryId).executeTakeFirst();
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
          .where('type', '~', '^(agent|session|pause_request)\\.'),
      )
      .limit(1)
      .executeTakeFirst();
    if (earlier) return { outcome: 'blocked' };
  }
  const agentId = d.agent_id ?? undefined;
  const [event, target] = await Promise.all([
    db.selectFrom('outbox').select('payload').where('id', '=', d.event_id).executeTakeFirst(),
    targetOf(deps, d),
  ]);
  const attempts = d.attempts + 1;
  const settle = (status: 'succeeded' | 'failed', fields: { last_status?: number | null; last_error?: string | null }) =>
    db
      .updateTable('deliveries')
      .set({ status, attempts, updated_at: new Date(), ...(status === 'succeeded' ? { delivered_at: new Date() } : {}), ...fields })
      .where('id', '=', d.id)
      .where('status', '=', 'pending')
      .execute();

  if (!event || !target) {
    await settle('failed', { last_error: !event ? 'event no longer stored' : 'target removed' });
    return { outcome: 'failed', agentId };
  }
  try {
    const status = await signedPost({ url: target.url, secret: target.secret, id: d.event_id, body: JSON.stringify(event.payload), allowPrivateUrls: config.allowPrivateUrls });
    await settle('succeeded', { last_status: status, last_error: null });
    return { outcome: 'succeeded', status, agentId };
  } catch (err) {
    const status = err instanceof DeliveryError ? err.status : undefined;
    const message = (err as Error).message.slice(0, 500);
    // 410 Gone: the receiver asks never to be called again (contract §5).
    if (status === 410 && d.endpoint_id) {
      await settle('failed', { last_status: 410, last_error: 'endpoint answered 410 Gone; endpoint disabled' });
      await db
        .updateTable('webhook_endpoints')
        .set({ disabled_at: new Date(), disabled_reason: 'answered 410 Gone' })
        .where('id', '=', d.endpoint_id)
        .where('disabled_at', 'is', null)
        .execute();
      return { outcome: 'failed', status };
    }
    if (attempts > config.retryScheduleMs.length) {
      await settle('failed', { last_status: status ?? null, last_error: message });
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
