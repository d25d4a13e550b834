// Fans outbox events out, a batch per statement: a delivery row per subscribed webhook endpoint,
// one for the agent's delivery_url (its own agent.*, session.* and pause_request.* events), and the
// approval work (arm its timeout, send it on its channel, show the outcome once settled). Rows and
// the dispatched marks commit together; a crash re-runs the batch and the unique (target, event)
// indexes keep it from doubling, which is also why this bookkeeping may commit asynchronously.
// Jobs are armed after the commit; if that fails, the sweep re-arms from Postgres.
import { sql } from 'kysely';
import { APPROVAL_REQUESTED } from '../src/approvals/approvals.js';
import { uuidv7Sql } from '../src/db/index.js';
import type { ApprovalChannel } from '../src/db/schema.js';
import type { Deps } from '../src/deps.js';
import { AGENT_EVENTS, WEBHOOK_EVENTS } from '../src/webhooks/events.js';
import type { DueDelivery, DueOutcome, DueSend } from './arm.js';

/** Events per transaction. A batch that comes back shorter is the last one for now: anything
 *  committed after its read NOTIFYs (or is found by the poll), so the worker does not read again. */
export const BATCH = 200;

export interface Fanout {
  events: number;
  /** Deliveries created now, to attempt at once. */
  deliveries: DueDelivery[];
  /** New approvals: arm their timers. */
  requested: { id: string; expires_at: Date; channel: ApprovalChannel }[];
  /** The prompts of new approvals: send their questions. */
  sends: DueSend[];
  /** The prompts of approvals that left pending: show the outcome (or conclude an unsent one). */
  outcomes: DueOutcome[];
  /** Sent prompts of approvals a quorum's vote moved: show the new count. */
  progress: { id: string; event_id: string }[];
  /** What the metrics count: approvals decided and timed out (each event is fanned out once). */
  counted: Counted[];
}

export interface Counted {
  type: string;
  channel: string;
  /** The channel a decision came through. */
  via: string | null;
  /** Asked to decided. */
  seconds: number | null;
}

/** The events the metrics count. */
const COUNTED = ['pause_request.responded', 'pause_request.timed_out'];

/** Whether any event waits (one cheap read on the partial index: the poll runs often). */
export async function outboxPending(deps: Pick<Deps, 'db'>): Promise<boolean> {
  const row = await deps.db
    .selectFrom('outbox')
    .select('id')
    .where('dispatched_at', 'is', null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

type Json<T> = Omit<T, 'expires_at' | 'next_attempt_at' | 'outcome_next_at'> & {
  expires_at?: string;
  next_attempt_at?: string;
  outcome_next_at?: string;
};

/** The events that take an approval out of pending (its prompts' outcomes are due). */
const SETTLED = ['pause_request.responded', 'pause_request.timed_out', 'pause_request.cancelled'];

/**
 * Fans out up to one batch of undispatched events; returns what to arm. One statement, one round
 * trip, whatever the batch holds (at 100 decisions a second a batch is often one event; BEGIN, a
 * read, a write and COMMIT cost the worker more than the decision itself): it locks the events,
 * inserts a delivery per subscribed endpoint and per delivery_url, marks the events dispatched,
 * reads the new approvals' deadlines and prompts, and marks the settled ones' prompts' outcomes
 * due. Delivery ids are UUIDv7 made in SQL, as the rows are (`uuidv7Sql`).
 */
export async function dispatchBatch(deps: Pick<Deps, 'db'>): Promise<Fanout> {
  const { rows } = await sql<{
    events: number;
    deliveries: Json<DueDelivery>[];
    requested: Json<Fanout['requested'][number]>[];
    sends: Json<DueSend>[];
    outcomes: Json<DueOutcome>[];
    progress: { id: string; event_id: string }[];
    counted: Counted[];
  }>`
    with ev as (
      select o.id, o.workspace_id, o.agent_id, o.type, o.payload
      from outbox o
      where o.dispatched_at is null
      order by o.id
      limit ${BATCH}
      for update of o skip locked
    ), targets as (
      select ev.id as event_id, ev.workspace_id, ev.type as event_type, w.id as endpoint_id, null::uuid as agent_id
      from ev join webhook_endpoints w on w.workspace_id = ev.workspace_id
      where ev.type = any(${[...WEBHOOK_EVENTS]}::text[]) and w.deleted_at is null and w.disabled_at is null
        and (w.events is null or ev.type = any(w.events))
      union all
      select ev.id, ev.workspace_id, ev.type, null, ev.agent_id
      from ev join agents a on a.id = ev.agent_id
      where ev.type ~ ${AGENT_EVENTS} and a.delivery_url is not null
    ), created as (
      insert into deliveries (id, workspace_id, event_id, event_type, endpoint_id, agent_id)
      select ${uuidv7Sql}, workspace_id, event_id, event_type, endpoint_id, agent_id from targets
      order by event_id
      on conflict do nothing
      returning id, attempts, next_attempt_at, endpoint_id, agent_id
    ), marked as (
      update outbox set dispatched_at = now() where id in (select id from ev)
    ), outcomes as (
      update prompts p set outcome_next_at = now()
      from ev where ev.type = any(${SETTLED}::text[]) and p.approval_id = (ev.payload->'data'->>'pause_id')::uuid and p.outcome_at is null
      returning p.id, p.outcome_attempts, p.outcome_next_at
    )
    select
      (select count(*)::int from ev) as events,
      (select coalesce(json_agg(created), '[]') from created) as deliveries,
      (select coalesce(json_agg(json_build_object('id', a.id, 'expires_at', a.expires_at, 'channel', a.channel)), '[]')
        from ev join approvals a on a.id = (ev.payload->'data'->>'pause_id')::uuid
        where ev.type = ${APPROVAL_REQUESTED} and a.status = 'pending') as requested,
      (select coalesce(json_agg(json_build_object('id', p.id, 'attempts', p.attempts, 'next_attempt_at', p.next_attempt_at)), '[]')
        from ev join prompts p on p.approval_id = (ev.payload->'data'->>'pause_id')::uuid
        where ev.type = ${APPROVAL_REQUESTED} and p.status = 'queued') as sends,
      (select coalesce(json_agg(outcomes), '[]') from outcomes) as outcomes,
      (select coalesce(json_agg(json_build_object('id', p.id, 'event_id', ev.id)), '[]')
        from ev join prompts p on p.approval_id = (ev.payload->'data'->>'pause_id')::uuid
        where ev.type = 'pause_request.voted' and p.status = 'sent') as progress,
      (select coalesce(json_agg(json_build_object(
          'type', ev.type,
          'channel', ev.payload->'data'->>'channel',
          'via', ev.payload->'data'->'responder'->>'channel',
          'seconds', extract(epoch from (ev.payload->'data'->>'response_at')::timestamptz - (ev.payload->'data'->>'created_at')::timestamptz)
        )), '[]')
        from ev where ev.type = any(${COUNTED}::text[])) as counted,
      -- This bookkeeping may commit asynchronously (see the top of the file).
      set_config('synchronous_commit', 'off', true) as async_commit`.execute(deps.db);
  const r = rows[0]!;
  return {
    events: r.events,
    deliveries: r.deliveries.map((d) => ({ ...d, next_attempt_at: new Date(d.next_attempt_at!) })),
    requested: r.requested.map((a) => ({ ...a, expires_at: new Date(a.expires_at!) })),
    sends: r.sends.map((p) => ({ ...p, next_attempt_at: new Date(p.next_attempt_at!) })),
    outcomes: r.outcomes.map((p) => ({ ...p, outcome_next_at: new Date(p.outcome_next_at!) })),
    progress: r.progress,
    counted: r.counted,
  };
}
