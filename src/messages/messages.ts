// Agent-to-agent messages: a durable inbox per recipient with a gapless `seq`. Sending locks the
// recipient's row, so seq is assigned without gaps and the backlog cap holds exactly under
// concurrent senders; a refused message is never stored. A full pause holds delivery (reads return
// nothing) without refusing anything; unpause wakes waiting readers, who drain in seq order.
import { sql } from 'kysely';
import { findAgent } from '../agents/registry.js';
import { actingAgent, type Ctx } from '../context.js';
import { isUuid, newId, json, type Db } from '../db/index.js';
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

/**
 * One statement, in autocommit when it can be: the recipient's row is locked (FOR NO KEY UPDATE:
 * senders to one inbox queue up, readers do not wait), every refusal is decided on that locked row,
 * and the seq bump, the message and the wake-up follow. The lock is held for this statement and
 * its commit only, never across a round trip to this process, which is what bounds the accept
 * rate to one inbox. The sender is read without a lock: a pause committing meanwhile orders after
 * this send.
 */
export async function sendMessage(
  db: Db,
  ctx: Ctx,
  input: { to: string; body: unknown },
  limits: { backlogCap: number },
): Promise<{ id: string; to: string; seq: number; created_at: string }> {
  const fromId = sender(ctx);
  const ws = ctx.workspaceId;
  const id = newId();
  const toMatch = isUuid(input.to) ? sql`r.id = ${input.to}::uuid` : sql`r.name = ${input.to}`;
  const { rows } = await sql<SendVerdict>`
    with s as (
      select id, name, pause_mode, run_state from agents where id = ${fromId} and workspace_id = ${ws} and deleted_at is null
    ), r as (
      select r.id, r.name, r.run_state, r.inbox_seq, r.acked_seq from agents r
      where r.workspace_id = ${ws} and r.deleted_at is null and ${toMatch}
      for no key update
    ), v as (
      select s.name as from_name, s.pause_mode, s.run_state as from_state, r.id as to_id, r.name as to_name, r.run_state as to_state,
        case
          when s.pause_mode is not null then 'AGENT_PAUSED_BY_OWNER'
          when s.run_state <> 'running' then 'AGENT_INACTIVE'
          when r.id is null then 'not_found'
          when r.run_state <> 'running' then 'RECIPIENT_INACTIVE'
          when exists (select 1 from blocks b where b.agent_id = r.id and b.blocked_id = s.id) then 'BLOCKED'
          when r.inbox_seq - r.acked_seq >= ${limits.backlogCap} then 'RECIPIENT_BACKLOGGED'
        end as refusal
      from s left join r on true
    ), bumped as (
      update agents a set inbox_seq = a.inbox_seq + 1, backlog_since = coalesce(a.backlog_since, now())
      from v where a.id = v.to_id and v.refusal is null
      returning a.id, a.inbox_seq
    ), m as (
      insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
      select ${id}, ${ws}, b.id, ${fromId}, b.inbox_seq, ${json(input.body)}::json from bumped b
      returning seq, created_at
    )
    select v.*, m.seq, m.created_at, (select pg_notify(${NOTIFY_CHANNEL}, ${INBOX_PREFIX} || b.id) from bumped b) as woke
    from v left join m on true`.execute(db);
  const v = rows[0];
  if (!v) fail('AGENT_INACTIVE', 'This agent no longer exists and may not send');
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
