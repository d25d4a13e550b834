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
import { WEBHOOK_EVENTS } from '../src/webhooks/events.js';
import type { DueDelivery } from './arm.js';

/** Events per transaction. A batch that comes back shorter is the last one for now: anything
 *  committed after its read NOTIFYs (or is found by the poll), so the worker does not read again. */
export const BATCH = 200;
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

const approvalIdOf = (e: Pick<OutboxRow, 'payload'>) => (e.payload.data as { pause_id?: string } | undefined)?.pause_id;

/** Whether any event waits (one cheap read on the partial index: the poll runs often). */
export async function outboxPending(deps: Pick<Deps, 'db'>): Promise<boolean> {
  const row = await deps.db.selectFrom('outbox').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst();
  return row !== undefined;
}

interface PendingEvent {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  type: string;
  payload: OutboxRow['payload'];
  /** The workspace's live webhook endpoints subscribed to this event. */
  endpoint_ids: string[] | null;
  /** Whether the event goes to the agent's delivery_url too. */
  to_agent: boolean;
}

/**
 * Fans out up to one batch of undispatched events; returns what to arm. Four round trips whatever
 * the batch holds (at 100 decisions a second a batch is often one event): BEGIN; one read that
 * locks the events and finds, per event, the endpoints and the delivery_url it goes to; one write
 * of the delivery rows and the dispatched marks that also reads the new approvals' deadlines; COMMIT.
 */
export async function dispatchBatch(deps: Pick<Deps, 'db'>): Promise<Fanout> {
  return deps.db.transaction().execute(async (tx) => {
    const { rows: events } = await sql<PendingEvent>`
      select o.id, o.workspace_id, o.agent_id, o.type, o.payload,
        case when o.type = any(${[...WEBHOOK_EVENTS]}::text[]) then array(
          select w.id from webhook_endpoints w
          where w.workspace_id = o.workspace_id and w.deleted_at is null and w.disabled_at is null
            and (w.events is null or o.type = any(w.events))
        ) end as endpoint_ids,
        o.agent_id is not null and o.type ~ ${AGENT_EVENT.source} and exists (
          select 1 from agents a where a.id = o.agent_id and a.delivery_url is not null
        ) as to_agent,
        -- This bookkeeping may commit asynchronously (see the top of the file).
        set_config('synchronous_commit', 'off', true) as async_commit
      from outbox o
      where o.dispatched_at is null
      order by o.id
      limit ${BATCH}
      for update of o skip locked`.execute(tx);
    const out: Fanout = { events: events.length, deliveries: [], requested: [], settled: [] };
    if (events.length === 0) return out;

    const rows: { id: string; workspace_id: string; event_id: string; event_type: string; endpoint_id: string | null; agent_id: string | null }[] = [];
    for (const e of events) {
      const base = { workspace_id: e.workspace_id, event_id: e.id, event_type: e.type };
      for (const endpointId of e.endpoint_ids ?? []) rows.push({ ...base, id: newId(), endpoint_id: endpointId, agent_id: null });
      if (e.to_agent) rows.push({ ...base, id: newId(), endpoint_id: null, agent_id: e.agent_id });
      const approvalId = approvalIdOf(e);
      // A pause_request.* event carries the approval's view, channel included.
      if (approvalId && e.type.startsWith('pause_request.')) out.settled.push({ id: approvalId, channel: (e.payload.data as { channel: ApprovalChannel }).channel });
    }
    const requested = events.filter((e) => e.type === APPROVAL_REQUESTED).map(approvalIdOf).filter((id): id is string => !!id);
    const ids = events.map((e) => e.id);
    const { rows: written } = await sql<{ deliveries: (Omit<DueDelivery, 'next_attempt_at'> & { next_attempt_at: string })[]; requested: (Omit<Fanout['requested'][number], 'expires_at'> & { expires_at: string })[] }>`
      with marked as (update outbox set dispatched_at = now() where id = any(${ids}::uuid[])),
      created as (
        insert into deliveries (id, workspace_id, event_id, event_type, endpoint_id, agent_id)
        select id, workspace_id, event_id, event_type, endpoint_id, agent_id
        from json_to_recordset(${JSON.stringify(rows)}::json)
          as r(id uuid, workspace_id uuid, event_id uuid, event_type text, endpoint_id uuid, agent_id uuid)
        on conflict do nothing
        returning id, attempts, next_attempt_at, endpoint_id, agent_id
      )
      select
        (select coalesce(json_agg(created), '[]') from created) as deliveries,
        (select coalesce(json_agg(json_build_object('id', a.id, 'expires_at', a.expires_at, 'channel', a.channel)), '[]')
          from approvals a where a.id = any(${requested}::uuid[]) and a.status = 'pending') as requested`.execute(tx);
    const w = written[0]!;
    out.deliveries = w.deliveries.map((d) => ({ ...d, next_attempt_at: new Date(d.next_attempt_at) }));
    out.requested = w.requested.map((a) => ({ ...a, expires_at: new Date(a.expires_at) }));
    return out;
  });
}
