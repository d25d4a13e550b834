// Fans outbox events out, a batch per transaction: a delivery row per subscribed webhook endpoint,
// one for the agent's delivery_url (its own agent.*, session.* and pause_request.* events), and the
// approval work (arm its timeout, send it on its channel, show the outcome once settled). Rows and
// the dispatched marks commit together; a crash re-runs the batch and the unique (target, event)
// indexes keep it from doubling, which is also why this bookkeeping may commit asynchronously.
// Jobs are armed after the commit; if that fails, the sweep re-arms from Postgres.
import { sql } from 'kysely';
import { APPROVAL_REQUESTED } from '../src/approvals/approvals.js';
import { newId } from '../src/db/index.js';
import type { ApprovalChannel, OutboxRow } from '../src/db/schema.js';
import type { Deps } from '../src/deps.js';
import { isWebhookEvent } from '../src/webhooks/events.js';
import type { DueDelivery } from './arm.js';

const BATCH = 200;
const AGENT_EVENT = /^(agent|session|pause_request)\./;

export interface Fanout {
  events: number;
  /** Deliveries created now, to attempt at once. */
  deliveries: DueDelivery[];
  /** New approvals: arm their timers (and send them on their channel). */
  requested: { id: string; expires_at: Date; channel: ApprovalChannel }[];
  /** Approvals that left pending: let their channel show the outcome. */
  settled: { id: string; channel: ApprovalChannel }[];
}

const approvalIdOf = (e: OutboxRow) => (e.payload.data as { pause_id?: string } | undefined)?.pause_id;

/** Whether any event waits (one cheap read on the partial index: the poll runs often). */
export async function outboxPending(deps: Pick<Deps, 'db'>): Promise<boolean> {
  const row = await deps.db.selectFrom('outbox').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Fans out up to one batch of undispatched events; returns what to arm. */
export async function dispatchBatch(deps: Pick<Deps, 'db'>): Promise<Fanout> {
  return deps.db.transaction().execute(async (tx) => {
    await sql`set local synchronous_commit = off`.execute(tx);
    const events = await tx
      .selectFrom('outbox')
      .selectAll()
      .where('dispatched_at', 'is', null)
      .orderBy('id')
      .limit(BATCH)
      .forUpdate()
      .skipLocked()
      .execute();
    const out: Fanout = { events: events.length, deliveries: [], requested: [], settled: [] };
    if (events.length === 0) return out;

    const hooked = events.filter((e) => isWebhookEvent(e.type));
    const workspaces = [...new Set(hooked.map((e) => e.workspace_id))];
    const endpoints = workspaces.length
      ? await tx
          .selectFrom('webhook_endpoints')
          .select(['id', 'workspace_id', 'events'])
          .where('workspace_id', 'in', workspaces)
          .where('deleted_at', 'is', null)
          .where('disabled_at', 'is', null)
          .execute()
      : [];
    const agentIds = [...new Set(events.filter((e) => e.agent_id && AGENT_EVENT.test(e.type)).map((e) => e.agent_id!))];
    const withUrl = new Set(
      agentIds.length
        ? (await tx.selectFrom('agents').select('id').where('id', 'in', agentIds).where('delivery_url', 'is not', null).execute()).map((a) => a.id)
        : [],
    );

    const rows: { id: string; workspace_id: string; event_id: string; event_type: string; endpoint_id: string | null; agent_id: string | null }[] = [];
    for (const e of events) {
      const base = { workspace_id: e.workspace_id, event_id: e.id, event_type: e.type };
      if (isWebhookEvent(e.type)) {
        for (const ep of endpoints) {
          if (ep.workspace_id === e.workspace_id && (ep.events === null || ep.events.includes(e.type))) rows.push({ ...base, id: newId(), endpoint_id: ep.id, agent_id: null });
        }
      }
      if (e.agent_id && AGENT_EVENT.test(e.type) && withUrl.has(e.agent_id)) rows.push({ ...base, id: newId(), endpoint_id: null, agent_id: e.agent_id });
      const approvalId = approvalIdOf(e);
      // A pause_request.* event carries the approval's view, channel included.
      if (approvalId && e.type.startsWith('pause_request.')) out.settled.push({ id: approvalId, channel: (e.payload.data as { channel: ApprovalChannel }).channel });
    }
    if (rows.length) {
      out.deliveries = await tx
        .insertInto('deliveries')
        .values(rows)
        .onConflict((oc) => oc.doNothing())
        .returning(['id', 'attempts', 'next_attempt_at', 'endpoint_id', 'agent_id'])
        .execute();
    }
    const requested = events.filter((e) => e.type === APPROVAL_REQUESTED).map(approvalIdOf).filter((id): id is string => !!id);
    if (requested.length) {
      out.requested = await tx.selectFrom('approvals').select(['id', 'expires_at', 'channel']).where('id', 'in', requested).where('status', '=', 'pending').execute();
    }
    await tx
      .updateTable('outbox')
      .set({ dispatched_at: new Date() })
      .where(
        'id',
        'in',
        events.map((e) => e.id),
      )
      .execute();
    return out;
  });
}
