// Fans one outbox event out: a delivery row per subscribed webhook endpoint and one for the agent's
// delivery_url (its own agent.*, session.* and pause_request.* events), plus the approval work
// (arm its timeout, send it on its channel, update the channel's message once settled). Rows and
// the dispatched mark commit together, so a crash re-runs the whole fan-out and the unique
// (target, event) indexes keep it from doubling.
import { sql } from 'kysely';
import { APPROVAL_REQUESTED } from '../src/approvals/approvals.js';
import { newId } from '../src/db/index.js';
import type { Deps } from '../src/deps.js';
import { isWebhookEvent } from '../src/webhooks/events.js';
import type { DueDelivery } from './arm.js';

export interface Fanout {
  /** Deliveries created now, to attempt at once. */
  deliveries: DueDelivery[];
  /** A new approval: arm its timer and send it on its channel. */
  requested?: { approvalId: string };
  /** An approval left pending: let its channel show the outcome. */
  settled?: { approvalId: string };
}

const AGENT_EVENT = /^(agent|session|pause_request)\./;

export async function dispatchEvent(deps: Pick<Deps, 'db'>, outboxId: string): Promise<Fanout | undefined> {
  return deps.db.transaction().execute(async (tx) => {
    const event = await tx.selectFrom('outbox').selectAll().where('id', '=', outboxId).forUpdate().executeTakeFirst();
    if (!event || event.dispatched_at) return undefined;
    const out: Fanout = { deliveries: [] };
    const base = { workspace_id: event.workspace_id, event_id: event.id, event_type: event.type };

    if (isWebhookEvent(event.type)) {
      const endpoints = await tx
        .selectFrom('webhook_endpoints')
        .select('id')
        .where('workspace_id', '=', event.workspace_id)
        .where('deleted_at', 'is', null)
        .where('disabled_at', 'is', null)
        .where((eb) => eb.or([eb('events', 'is', null), eb(sql`${event.type}`, '=', eb.fn.any('events'))]))
        .execute();
      if (endpoints.length) {
        const rows = await tx
          .insertInto('deliveries')
          .values(endpoints.map((e) => ({ ...base, id: newId(), endpoint_id: e.id })))
          .onConflict((oc) => oc.doNothing())
          .returning(['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'])
          .execute();
        out.deliveries.push(...rows);
      }
    }
    if (event.agent_id && AGENT_EVENT.test(event.type)) {
      const agent = await tx.selectFrom('agents').select('delivery_url').where('id', '=', event.agent_id).executeTakeFirst();
      if (agent?.delivery_url) {
        const rows = await tx
          .insertInto('deliveries')
          .values({ ...base, id: newId(), agent_id: event.agent_id })
          .onConflict((oc) => oc.doNothing())
          .returning(['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'])
          .execute();
        out.deliveries.push(...rows);
      }
    }
    const approvalId = (event.payload.data as { pause_id?: string } | undefined)?.pause_id;
    if (event.type === APPROVAL_REQUESTED && approvalId) out.requested = { approvalId };
    if (event.type.startsWith('pause_request.') && approvalId) out.settled = { approvalId };

    await tx.updateTable('outbox').set({ dispatched_at: new Date() }).where('id', '=', event.id).execute();
    return out;
  });
}
