// Agent-to-agent messages: a durable inbox per recipient with a gapless `seq`. Sending locks the
// recipient's row, so seq is assigned without gaps and the backlog cap holds exactly under
// concurrent senders; a refused message is never stored. A full pause holds delivery (reads return
// nothing) without refusing anything; unpause wakes waiting readers, who drain in seq order.
import { sql } from 'kysely';
import { findAgent } from '../agents/registry.js';
import { actingAgent, type Ctx } from '../context.js';
import { batchedPerDb, isUuid, newId, type Db } from '../db/index.js';
import { NOTIFY_CHANNEL, type Notifier } from '../db/notifier.js';
import { fail, notFound } from '../errors.js';
import { INBOX_PREFIX, inboxKey } from '../wakeups.js';

export interface MessageView {
  id: string;
  seq: number;
  from: string;
  from_id: string;
  body: unknown;
  created_at: string;
}

function sender(ctx: Ctx): string {
  const id = actingAgent(ctx);
  if (!id) fail('forbidden', 'Messages are sent and read by agents (use an agent key)');
  return id;
}

interface SendVerdict {
  refusal:
    | 'AGENT_PAUSED_BY_OWNER'
    | 'AGENT_INACTIVE'
    | 'not_found'
    | 'RECIPIENT_INACTIVE'
    | 'BLOCKED'
    | 'RECIPIENT_BACKLOGGED'
    | 'gone'
    | null;
  from_name: string;
  pause_mode: string | null;
  from_state: string;
  to_id: string | null;
  to_name: string | null;
  to_state: string | null;
  seq: string | null;
  created_at: Date | null;
}

interface SendItem {
  id: string;
  ws: string;
  from_id: string;
  to_id: string | null;
  to_name: string | null;
  /** The body as JSON text (a JSON null survives json_to_recordset as text, not as SQL NULL). */
  body: string;
  cap: number;
}

/**
 * Concurrent sends share one statement and one commit (sends to one inbox otherwise queue on its
 * row lock, each through its own commit). The recipients' rows are locked FOR NO KEY UPDATE in id
 * order (senders to one inbox queue up, readers do not wait, two batches cannot deadlock); every
 * refusal is decided on those locked rows; the sends that pass get the next seqs of their inbox in
 * arrival order, and the cap counts the batch's earlier ones, so seq stays gapless and the cap
 * exact. Senders are read without a lock: a pause committing meanwhile orders after these sends.
 */
const sendBatch = batchedPerDb(async (db: Db, items: SendItem[]): Promise<SendVerdict[]> => {
  const input = items.map((item, i) => ({ ...item, i }));
  const { rows } = await sql<SendVerdict & { i: number }>`
    with x as (
      select x.*, coalesce(x.to_id, (select a.id from agents a where a.workspace_id = x.ws and a.name = x.to_name and a.deleted_at is null)) as target
      from json_to_recordset(${JSON.stringify(input)}::json)
        as x(i int, id uuid, ws uuid, from_id uuid, to_id uuid, to_name text, body text, cap bigint)
    ), r as (
      select a.id, a.workspace_id, a.name, a.run_state, a.inbox_seq, a.acked_seq from agents a
      where a.id in (select target from x) and a.deleted_at is null
      order by a.id
      for no key update
    ), pre as (
      select x.i, x.id, x.ws, x.from_id, x.body, x.cap, s.name as from_name, s.pause_mode, s.run_state as from_state,
        r.id as to_id, r.name as to_name, r.run_state as to_state, r.inbox_seq, r.acked_seq,
        case
          when s.id is null then 'gone'
          when s.pause_mode is not null then 'AGENT_PAUSED_BY_OWNER'
          when s.run_state <> 'running' then 'AGENT_INACTIVE'
          when r.id is null then 'not_found'
          when r.run_state <> 'running' then 'RECIPIENT_INACTIVE'
          when exists (select 1 from blocks b where b.agent_id = r.id and b.blocked_id = s.id) then 'BLOCKED'
        end as pre_refusal
      from x
      left join agents s on s.id = x.from_id and s.workspace_id = x.ws and s.deleted_at is null
      left join r on r.id = x.target and r.workspace_id = x.ws and (r.id = x.to_id or r.name = x.to_name)
    ), ranked as (
      select pre.*, count(*) filter (where pre_refusal is null)
        over (partition by to_id order by i rows between unbounded preceding and current row) as k
      from pre
    ), v as (
      select ranked.*, coalesce(pre_refusal,
        case when inbox_seq - acked_seq + k > cap then 'RECIPIENT_BACKLOGGED' end) as refusal
      from ranked
    ), bumped as (
      update agents a set inbox_seq = a.inbox_seq + n.n, backlog_since = coalesce(a.backlog_since, now())
      from (select to_id, count(*) as n from v where refusal is null group by to_id) n
      where a.id = n.to_id
      returning a.id
    ), m as (
      insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
      select v.id, v.ws, v.to_id, v.from_id, v.inbox_seq + v.k, v.body::json from v where v.refusal is null
      returning id, seq, created_at
    )
    select v.i, v.refusal, v.from_name, v.pause_mode, v.from_state, v.to_id, v.to_name, v.to_state, m.seq, m.created_at,
      (select count(pg_notify(${NOTIFY_CHANNEL}, ${INBOX_PREFIX} || b.id)) from bumped b) as woke
    from v left join m on m.id = v.id
    order by v.i`.execute(db);
  return rows;
}, 200);

/** Sends a message to an agent of the sender's workspace, by name or id: 202 with its seq, or the
 *  refusal that applies (contract §6). */
export async function sendMessage(
  db: Db,
  ctx: Ctx,
  input: { to: string; body: unknown },
  limits: { backlogCap: number },
): Promise<{ id: string; to: string; seq: number; created_at: string }> {
  const fromId = sender(ctx);
  const id = newId();
  const byId = isUuid(input.to);
  const v = await sendBatch(db, {
    id,
    ws: ctx.workspaceId,
    from_id: fromId,
    to_id: byId ? input.to : null,
    to_name: byId ? null : input.to,
    body: JSON.stringify(input.body ?? null),
    cap: limits.backlogCap,
  });
  if (!v || v.refusal === 'gone') fail('AGENT_INACTIVE', 'This agent no longer exists and may not send');
  const stopped = (state: string | null) => (state === 'stopped' ? 'stopped' : 'stopping');
  if (v.refusal === 'not_found') notFound(`Agent ${input.to}`);
  if (v.refusal) {
    const why = {
      AGENT_PAUSED_BY_OWNER: `${v.from_name} is paused by its owner (${v.pause_mode}) and may not send`,
      AGENT_INACTIVE: `${v.from_name} is ${stopped(v.from_state)} and may not send`,
      RECIPIENT_INACTIVE: `${v.to_name} is ${stopped(v.to_state)}`,
      BLOCKED: `${v.to_name} has blocked ${v.from_name}`,
      RECIPIENT_BACKLOGGED: `${v.to_name} has ${limits.backlogCap} undelivered messages; try again later`,
    }[v.refusal];
    fail(v.refusal, why);
  }
  return { id, to: v.to_id!, seq: Number(v.seq), created_at: v.created_at!.toISOString() };
}

/**
 * Up to `limit` of the agent's messages after seq `after`, in seq order, that may be delivered
 * now: none under full pause (held, not dropped). With `lock`, the agent's row is read FOR KEY
 * SHARE in the same statement, and a pause takes it FOR UPDATE: a pause committing while this reads
 * waits for it, and a read that comes second sees the pause. The stream reads this way inside a
 * transaction and writes its frames before it commits, so nothing it read before a pause goes out
 * after that pause commits. (Outside a transaction the lock would buy nothing.)
 */
export async function deliverableMessages(
  db: Db,
  agentId: string,
  after: number,
  limit: number,
  opts: { lock?: boolean } = {},
): Promise<MessageView[]> {
  let q = db
    .selectFrom('agents as a')
    .innerJoin('messages as m', (j) => j.onRef('m.recipient_id', '=', 'a.id').on('m.seq', '>', String(after)))
    .innerJoin('agents as s', 's.id', 'm.sender_id')
    .select(['m.id', 'm.seq', 'm.body', 'm.created_at', 's.name as from', 's.id as from_id'])
    .where('a.id', '=', agentId)
    .where((eb) => eb.or([eb('a.pause_mode', 'is', null), eb('a.pause_mode', '!=', 'full')]))
    .orderBy('m.seq')
    .limit(limit);
  if (opts.lock) q = q.forKeyShare('a');
  const rows = await q.execute();
  return rows.map(messageView);
}

export function messageView(r: {
  id: string;
  seq: string;
  from: string;
  from_id: string;
  body: unknown;
  created_at: Date;
}): MessageView {
  return {
    id: r.id,
    seq: Number(r.seq),
    from: r.from,
    from_id: r.from_id,
    body: r.body,
    created_at: r.created_at.toISOString(),
  };
}

async function ackedSeq(db: Db, agentId: string): Promise<number> {
  const me = await db.selectFrom('agents').select('acked_seq').where('id', '=', agentId).executeTakeFirstOrThrow();
  return Number(me.acked_seq);
}

/**
 * The calling agent's inbox in seq order, after `after` (default: the last acknowledged seq).
 * With `waitMs` it waits for a message (or an unpause) when there is nothing to read yet.
 */
export async function readInbox(
  db: Db,
  notifier: Notifier,
  ctx: Ctx,
  q: { after?: number; limit: number; waitMs: number },
): Promise<MessageView[]> {
  const me = sender(ctx);
  // Presence: a read marks the agent as seen (at most every 10 s, to keep reads cheap).
  await db
    .updateTable('agents')
    .set({ last_seen_at: new Date() })
    .where('id', '=', me)
    .where((eb) => eb.or([eb('last_seen_at', 'is', null), eb('last_seen_at', '<', new Date(Date.now() - 10_000))]))
    .execute();
  const after = q.after ?? (await ackedSeq(db, me));
  const read = async () => {
    const got = await deliverableMessages(db, me, after, q.limit);
    return got.length > 0 ? got : undefined;
  };
  if (q.waitMs <= 0) return (await read()) ?? [];
  return (await notifier.waitFor(inboxKey(me), q.waitMs, read)) ?? [];
}

/** Everything up to `seq` is delivered. Acks never move backwards, nor past the last message. */
export async function ackMessages(db: Db, ctx: Ctx, seq: number): Promise<{ acked_seq: number }> {
  return ackInbox(db, sender(ctx), seq);
}

/** ackMessages for a known agent id (the stream and the delivery_url drain ack as the agent). */
export async function ackInbox(db: Db, me: string, seq: number): Promise<{ acked_seq: number }> {
  const acked = sql<string>`greatest(acked_seq, least(${String(seq)}::bigint, inbox_seq))`;
  const row = await db
    .updateTable('agents')
    .set({
      acked_seq: acked,
      // The next undelivered message's arrival, evaluated against the row before this update.
      backlog_since: sql`(select m.created_at from messages m where m.recipient_id = agents.id and m.seq = ${acked} + 1)`,
    })
    .where('id', '=', me)
    .returning('acked_seq')
    .executeTakeFirstOrThrow();
  return { acked_seq: Number(row.acked_seq) };
}

export async function blockAgent(db: Db, ctx: Ctx, ref: string): Promise<{ agent: string }> {
  const me = sender(ctx);
  const other = await findAgent(db, ctx.workspaceId, ref);
  await db
    .insertInto('blocks')
    .values({ agent_id: me, blocked_id: other.id })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return { agent: other.name };
}

export async function unblockAgent(db: Db, ctx: Ctx, ref: string): Promise<void> {
  const me = sender(ctx);
  const other = await findAgent(db, ctx.workspaceId, ref);
  const res = await db
    .deleteFrom('blocks')
    .where('agent_id', '=', me)
    .where('blocked_id', '=', other.id)
    .executeTakeFirst();
  if (!res.numDeletedRows) fail('not_found', `${other.name} is not blocked`);
}

export async function listBlocks(
  db: Db,
  ctx: Ctx,
): Promise<{ data: { agent: string; agent_id: string; created_at: string }[] }> {
  const me = sender(ctx);
  const rows = await db
    .selectFrom('blocks as b')
    .innerJoin('agents as a', 'a.id', 'b.blocked_id')
    .select(['a.name', 'a.id', 'b.created_at'])
    .where('b.agent_id', '=', me)
    .orderBy('b.created_at')
    .execute();
  return { data: rows.map((r) => ({ agent: r.name, agent_id: r.id, created_at: r.created_at.toISOString() })) };
}
