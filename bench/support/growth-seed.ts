// A year of a busy deployment, written by SQL bulk inserts (not the API), for bench/growth.ts:
// workspaces with agents, approvals (mostly settled, spread over the year), the activity timeline,
// messages (mostly acknowledged), dispatched outbox events, settled deliveries and inbound dedupe
// rows. Ids are UUIDv7 made from each row's own time, as Leash makes them, so id order is time order.
import { sql } from 'kysely';
import type { Db } from '../../src/db/index.js';

export interface Scale {
  workspaces: number;
  agentsPerWorkspace: number;
  approvals: number;
  /** Of them, still pending (the newest). */
  pending: number;
  activity: number;
  messagesPerAgent: number;
  /** Of each agent's messages, not yet acknowledged. */
  unackedPerAgent: number;
  outbox: number;
  deliveries: number;
  inbound: number;
}

export const FULL: Scale = {
  workspaces: 100,
  agentsPerWorkspace: 100,
  approvals: 1_000_000,
  pending: 1_000,
  activity: 1_000_000,
  messagesPerAgent: 200,
  unackedPerAgent: 2,
  outbox: 1_000_000,
  deliveries: 200_000,
  inbound: 200_000,
};

export const QUICK_SCALE: Scale = {
  ...FULL,
  approvals: 100_000,
  activity: 100_000,
  messagesPerAgent: 20,
  outbox: 100_000,
  deliveries: 20_000,
  inbound: 20_000,
};

/** A UUIDv7 for the time `ts` (an SQL expression), as src/db/index.ts's uuidv7Sql for now(). */
const uuidv7At = (ts: string) =>
  sql.raw(`encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    placing substring(int8send((extract(epoch from ${ts}) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid`);

/** Agents in the bench's workspace, and in `scale.workspaces - 1` others. */
export async function seedAgents(db: Db, workspaceId: string, scale: Scale, withOthers: boolean): Promise<void> {
  if (withOthers) {
    await sql`insert into workspaces (id, name) select gen_random_uuid(), 'grown-' || g
      from generate_series(1, ${scale.workspaces - 1}) g`.execute(db);
  }
  await sql`insert into agents (id, workspace_id, name)
    select gen_random_uuid(), w.id, 'agent-' || g
    from workspaces w cross join generate_series(1, ${scale.agentsPerWorkspace}) g
    where ${withOthers} or w.id = ${workspaceId}`.execute(db);
}

/** Everything else, for a year. Returns the seconds each table took. */
export async function seedHistory(db: Db, scale: Scale): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const timed = async (name: string, q: ReturnType<typeof sql>) => {
    const t0 = performance.now();
    await q.execute(db);
    took[name] = (performance.now() - t0) / 1000;
  };
  const yearS = 365 * 24 * 3600;
  await sql`create temporary table bench_agents as
    select id, workspace_id, (row_number() over (order by id)) - 1 as n from agents`.execute(db);
  await sql`create index on bench_agents (n)`.execute(db);
  const agents = Number((await sql<{ n: string }>`select count(*) as n from bench_agents`.execute(db)).rows[0]!.n);

  // Approvals: one every (year / count) seconds, newest last; the newest `pending` still open.
  await timed(
    'approvals',
    sql`insert into approvals (id, workspace_id, agent_id, requested_by, channel, recipient, message, options,
        allow_text_response, timeout_default, metadata, status, response_choice, response_at, responder, via_timeout,
        expires_at, created_at, updated_at)
      select ${uuidv7At('t.at')}, a.workspace_id, a.id, '{"type":"agent","id":null,"display":"bench"}'::jsonb,
        case when g % 10 = 0 then 'slack' else 'web' end, 'alice@example.com', 'Send wire #' || g || ' to Acme?',
        '["Approve","Reject"]'::jsonb, false, 'Reject', '{"amount":340}'::json,
        case when g > ${scale.approvals - scale.pending} then 'pending' when g % 7 = 0 then 'timed_out' else 'responded' end,
        case when g > ${scale.approvals - scale.pending} then null when g % 7 = 0 then 'Reject' else 'Approve' end,
        case when g > ${scale.approvals - scale.pending} then null else t.at + interval '3 minutes' end,
        case when g > ${scale.approvals - scale.pending} or g % 7 = 0 then null
          else '{"channel":"slack","display":"ana@acme.com"}'::jsonb end,
        g % 7 = 0 and g <= ${scale.approvals - scale.pending},
        case when g > ${scale.approvals - scale.pending} then now() + interval '1 hour' + g * interval '1 second'
          else t.at + interval '1 hour' end,
        t.at, t.at
      from generate_series(1, ${scale.approvals}) g
      cross join lateral (select now() - interval '1 hour' - (${scale.approvals} - g) * (${yearS / scale.approvals} * interval '1 second') as at) t
      join bench_agents a on a.n = g % ${agents}`,
  );
  await timed(
    'activity',
    sql`insert into activity (id, workspace_id, agent_id, action, actor, channel, details, created_at)
      select ${uuidv7At('t.at')}, a.workspace_id, a.id,
        (array['approval.requested','approval.responded','agent.paused','agent.unpaused','session.started'])[1 + g % 5],
        '{"type":"member","id":null,"display":"ana@acme.com"}'::jsonb,
        (array['api','slack','telegram','web'])[1 + g % 4], '{"reason":"bench"}'::jsonb, t.at
      from generate_series(1, ${scale.activity}) g
      cross join lateral (select now() - interval '1 hour' - (${scale.activity} - g) * (${yearS / scale.activity} * interval '1 second') as at) t
      join bench_agents a on a.n = g % ${agents}`,
  );
  // Messages: each agent's inbox, acknowledged but for the newest few.
  await timed(
    'messages',
    sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body, created_at)
      select ${uuidv7At('t.at')}, a.workspace_id, a.id, a.id, s, '{"text":"hello"}'::json, t.at
      from bench_agents a cross join generate_series(1, ${scale.messagesPerAgent}) s
      cross join lateral (select now() - interval '1 hour' - (${scale.messagesPerAgent} - s) * (${yearS / scale.messagesPerAgent} * interval '1 second') as at) t`,
  );
  await timed(
    'agents (inbox cursors)',
    sql`update agents set inbox_seq = ${scale.messagesPerAgent}, acked_seq = ${scale.messagesPerAgent - scale.unackedPerAgent}
      where id in (select id from bench_agents)`,
  );
  await timed(
    'outbox',
    sql`insert into outbox (id, workspace_id, agent_id, type, payload, created_at, dispatched_at)
      select ${uuidv7At('t.at')}, a.workspace_id, a.id, 'pause_request.responded',
        '{"type":"pause_request.responded","data":{"status":"responded"}}'::json, t.at, t.at + interval '50 milliseconds'
      from generate_series(1, ${scale.outbox}) g
      cross join lateral (select now() - interval '1 hour' - (${scale.outbox} - g) * (${yearS / scale.outbox} * interval '1 second') as at) t
      join bench_agents a on a.n = g % ${agents}`,
  );
  await timed(
    'deliveries',
    sql`insert into deliveries (id, workspace_id, event_id, event_type, agent_id, status, attempts, next_attempt_at,
        last_status, created_at, updated_at, delivered_at)
      select ${uuidv7At('t.at')}, a.workspace_id, gen_random_uuid(), 'pause_request.responded', a.id,
        case when g % 50 = 0 then 'failed' else 'succeeded' end, 1, t.at, 200, t.at, t.at, t.at
      from generate_series(1, ${scale.deliveries}) g
      cross join lateral (select now() - interval '1 hour' - (${scale.deliveries} - g) * (${yearS / scale.deliveries} * interval '1 second') as at) t
      join bench_agents a on a.n = g % ${agents}`,
  );
  // Vendors' retries are deduplicated for a week; a month of them, as if clean-up had stopped.
  await timed(
    'inbound_requests',
    sql`insert into inbound_requests (source, key, received_at)
      select 'slack', 'ev-' || g, now() - (${scale.inbound} - g) * (${(30 * 24 * 3600) / scale.inbound} * interval '1 second')
      from generate_series(1, ${scale.inbound}) g`,
  );
  const t0 = performance.now();
  await sql`vacuum analyze`.execute(db);
  took['vacuum analyze'] = (performance.now() - t0) / 1000;
  return took;
}
