// Agent-to-agent messages: a durable inbox per recipient with a gapless `seq`. Sending locks the
// recipient's row, so seq is assigned without gaps and the backlog cap holds exactly under
// concurrent senders; a refused message is never stored. A full pause holds delivery (reads return
// nothing) without refusing anything; unpause wakes waiting readers, who drain in seq order.
import { sql } from 'kysely';
import { findAgent } from '../agents/registry.js';
import { actingAgent, type Ctx } from '../context.js';
import { inTransaction, newId, json, type Db } from '../db/index.js';
import { notify, type Notifier } from '../db/notifier.js';
import { fail } from '../errors.js';
import { inboxKey } from '../wakeups.js';



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

export async function sendMessage(
  db: Db,
  ctx: Ctx,
  input: { to: string; body: unknown },
  limits: { backlogCap: number },
): Promise<{ id: string; to: string; seq: number; created_at: string }> {
  const fromId = sender(ctx);
  return inTransaction(db, async (tx) => {
    // The sender is read without a lock (a pause committing meanwhile orders after this send);
    // the recipient is locked: that is what makes seq gapless and the cap exact.
    const from = await findAgent(tx, ctx.workspaceId, fromId);
    if (from.pause_mode) fail('AGENT_PAUSED_BY_OWNER', `${from.name} is paused by its owner (${from.pause_mode}) and may not send`);
    if (from.run_state !== 'running') fail('AGENT_INACTIVE', `${from.name} is ${from.run_state === 'stopped' ? 'stopped' : 'stopping'} and may not send`);
    const to = await findAgent(tx, ctx.workspaceId, input.to, { forNoKeyUpdate: true });
    if (to.run_state !== 'running') fail('RECIPIENT_INACTIVE', `${to.name} is ${to.run_state === 'stopped' ? 'stopped' : 'stopping'}`);
    const blocked = await tx.selectFrom('blocks').select('agent_id').where('agent_id', '=', to.id).where('blocked_id', '=', from.id).executeTakeFirst();
    if (blocked) fail('BLOCKED', `${to.name} has blocked ${from.name}`);
    if (Number(to.inbox_seq) - Number(to.acked_seq) >= limits.backlogCap) {
      fail('RECIPIENT_BACKLOGGED', `${to.name} has ${limits.backlogCap} undelivered messages; try again later`);
    }
    const { inbox_seq } = await tx
      .updateTable('agents')
      .set({ inbox_seq: sql`inbox_seq + 1`, backlog_since: sql`coalesce(backlog_since, now())` })
      .where('id', '=', to.id)
      .returning('inbox_seq')
      .executeTakeFirstOrThrow();
    const row = await tx
      .insertInto('messages')
      .values({ id: newId(), workspace_id: ctx.workspaceId, recipient_id: to.id, sender_id: from.id, seq: inbox_seq, body: json(input.body) })
      .returning(['id', 'created_at'])
      .executeTakeFirstOrThrow();
    await notify(tx, inboxKey(to.id));
    return { id: row.id, to: to.id, seq: Number(inbox_seq), created_at: row.created_at.toISOString() };
  });
}

/**
 * Up to `limit` of the agent's messages after seq `after`, in seq order, that may be delivered
 * now: none under full pause (held, not dropped). The agent's row is read FOR KEY SHARE in the same
 * statement, and a pause takes it FOR UPDATE: a pause committing while this reads waits for it,
 * and a read that comes second sees the pause. A stream writes its frames before its transaction
 * commits, so nothing it read before a pause goes out after that pause commits.
 */
export async function deliverableMessages(db: Db, agentId: string, after: number, limit: number): Promise<MessageView[]> {
  const rows = await db
    .selectFrom('agents as a')
    .innerJoin('messages as m', (j) => j.onRef('m.recipient_id', '=', 'a.id').on('m.seq', '>', String(after)))
    .innerJoin('agents as s', 's.id', 'm.sender_id')
    .select(['m.id', 'm.seq', 'm.body', 'm.created_at', 's.name as from', 's.id as from_id'])
    .where('a.id', '=', agentId)
    .where((eb) => eb.or([eb('a.pause_mode', 'is', null), eb('a.pause_mode', '!=', 'full')]))
    .orderBy('m.seq')
    .limit(limit)
    .forKeyShare('a')
    .execute();
  return rows.map(messageView);
}

export function messageView(r: { id: string; seq: string; from: string; from_id: string; body: unknown; created_at: Date }): MessageView {
  return { id: r.id, seq: Number(r.seq), from: r.from, from_id: r.from_id, body: r.body, created_at: r.created_at.toISOString() };
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
  await db.insertInto('blocks').values({ agent_id: me, blocked_id: other.id }).onConflict((oc) => oc.doNothing()).execute();
  return { agent: other.name };
}

export async function unblockAgent(db: Db, ctx: Ctx, ref: string): Promise<void> {
  const me = sender(ctx);
  const other = await findAgent(db, ctx.workspaceId, ref);
  const res = await db.deleteFrom('blocks').where('agent_id', '=', me).where('blocked_id', '=', other.id).executeTakeFirst();
  if (!res.numDeletedRows) fail('not_found', `${other.name} is not blocked`);
}

export async function listBlocks(db: Db, ctx: Ctx): Promise<{ data: { agent: string; agent_id: string; created_at: string }[] }> {
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
