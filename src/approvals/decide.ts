// The one way an approval leaves `pending`: answered, timed out, or cancelled. Every surface (API,
// response page, Slack, Telegram, SMS) calls these. Each is a conditional UPDATE … WHERE status =
// 'pending', so the first answer wins by construction; the timeline row, the webhook event and the
// long-poll wake-up commit with it.
import { activityRow, recordChanges, type Change } from '../activity/timeline.js';
import { requireRole, scopeOf, type Ctx, type Scope } from '../context.js';
import { inTransaction, isUuid, json, newId, type Db, type Tx } from '../db/index.js';
import { NOTIFY_CHANNEL, withDetail } from '../db/notifier.js';
import { OUTBOX_KEY } from '../outbox/outbox.js';
import { agentKey } from '../wakeups.js';
import { sql, type Expression, type RawBuilder, type SqlBool, type Updateable } from 'kysely';
import type { ApprovalRow, ApprovalsTable, Responder } from '../db/schema.js';
import { fail, invalid, LeashError } from '../errors.js';
import { requireStorable } from '../storable-text.js';
import {
  approvalKey,
  approvalView,
  approvalViewSql,
  audienceOf,
  deliverySql,
  findApproval,
  withDelivery,
  type ApprovalRecord,
  type ApprovalSettings,
  type ApprovalView,
} from './approvals.js';
import { linkUrl } from './links.js';
import { linkDeciding } from './channels.js';
import { deciderOf, deciderSql, requireDecider, type Decider } from './deciders.js';
import { recordVote, votedChange, votesSettle, type Answer } from './votes.js';

type Links = Pick<ApprovalSettings, 'publicUrl' | 'secret'>;

const EVENT = {
  responded: 'pause_request.responded',
  timed_out: 'pause_request.timed_out',
  cancelled: 'pause_request.cancelled',
} as const;

/** What the timeline says of a settled approval. */
function settledDetails(
  row: Pick<ApprovalRow, 'id' | 'response_choice' | 'response_text' | 'via_timeout'> & { request_hash?: string | null },
) {
  return {
    pause_id: row.id,
    // What exactly was decided (src/approvals/request-hash.ts).
    ...(row.request_hash ? { request_hash: row.request_hash } : {}),
    choice: row.response_choice,
    ...(row.response_text ? { text: row.response_text } : {}),
    ...(row.via_timeout ? { via_timeout: true } : {}),
  };
}

/** The view for whoever settled it, and the change to record (its event carries the agent's view). */
function settlement(ctx: Ctx, row: ApprovalRecord, links: Links): { view: ApprovalView; change: Change } {
  const status = row.status as keyof typeof EVENT;
  return {
    view: approvalView(row, links, audienceOf(ctx)),
    change: {
      ctx,
      entry: { action: `approval.${status}`, agentId: row.agent_id, details: settledDetails(row) },
      event: {
        workspaceId: row.workspace_id,
        agentId: row.agent_id,
        type: EVENT[status],
        data: approvalView(row, links, 'agent'),
      },
      wake: [approvalKey(row.id)],
    },
  };
}

/** An answer or a cancel, as the columns it sets. */
interface Settling {
  status: 'responded' | 'cancelled';
  response_choice: string | null;
  response_text: string | null;
  responder: Responder | null;
}

/**
 * The common case of settleBeforeDeadline in one round trip, outside any transaction: one statement
 * moves the approval (the conditional UPDATE: scope, state, deadline and `valid`) and, only if it
 * matched, writes its timeline row and its event (the view built in SQL) and queues the wake-ups
 * recordChanges would (outbox, the agent's streams with the event's id, the approval's long-polls).
 * BEGIN, UPDATE, recordChanges and COMMIT were four round trips, the whole of a decision's latency
 * under load. Undefined when it matched nothing, to be explained by the slow path.
 */
async function settleInOneStatement(
  db: Db,
  ctx: Ctx,
  scope: Scope,
  id: string,
  links: Links,
  to: Settling,
  valid?: Expression<SqlBool>,
) {
  const now = new Date();
  let update = db
    .updateTable('approvals')
    .set({ ...to, responder: to.responder && json(to.responder), response_at: now, updated_at: now })
    .where('id', '=', id)
    .where('workspace_id', '=', scope.workspaceId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now);
  if (scope.agentId) update = update.where('agent_id', '=', scope.agentId);
  if (valid) update = update.where(valid);
  const act = activityRow(ctx, {
    action: `approval.${to.status}`,
    details: settledDetails({ id, ...to, via_timeout: false }),
  });
  const eventId = newId();
  const type = EVENT[to.status];
  const notify = (key: RawBuilder<unknown>) => sql`pg_notify(${NOTIFY_CHANNEL}, ${key})`;
  const { rows } = await sql<ApprovalRecord>`
    with u as (${update.returningAll()}),
    act as (
      insert into activity (id, workspace_id, agent_id, action, actor, channel, details)
      select ${act.id}, u.workspace_id, u.agent_id, ${act.action}, ${act.actor}::jsonb, ${act.channel},
        ${act.details}::jsonb || case when u.request_hash is null then '{}'::jsonb else jsonb_build_object('request_hash', u.request_hash) end
      from u
    ), ob as (
      insert into outbox (id, workspace_id, agent_id, type, payload)
      select ${eventId}, u.workspace_id, u.agent_id, ${type},
        json_build_object('type', ${type}::text, 'timestamp', ${now.toISOString()}::text, 'data', ${approvalViewSql('u', linkUrl(links.publicUrl, links.secret, { approvalId: id }))})
      from u
    )
    select u.*, ${deliverySql(sql.ref('u.id'))} as delivery, '[]'::json as votes, ${notify(sql`${OUTBOX_KEY}::text`)} as n_outbox, ${notify(sql`${approvalKey(id)}::text`)} as n_approval,
      -- withDetail(agentKey(u.agent_id), the event's id), assembled around the column
      case when u.agent_id is not null then ${notify(sql`${agentKey('')}::text || u.agent_id || ${withDetail('', eventId)}::text`)} end as n_agent
    from u`.execute(db);
  return rows[0] && approvalView(rows[0], links, audienceOf(ctx));
}

async function settle(tx: Tx, ctx: Ctx, row: ApprovalRow, links: Links): Promise<ApprovalView> {
  const [record] = await withDelivery(tx, [row]);
  const { view, change } = settlement(ctx, record!, links);
  await recordChanges(tx, [change]);
  return view;
}

/** The 409 for a late answer, naming what happened first. */
export function settledMessage(
  row: Pick<ApprovalRow, 'status' | 'responder' | 'response_choice' | 'expires_at'>,
): string {
  if (row.status === 'responded')
    return `Already decided by ${row.responder?.display ?? 'someone'}: ${row.response_choice}`;
  if (row.status === 'timed_out')
    return `Already timed out at ${row.expires_at.toISOString()}${row.response_choice ? ` (default: ${row.response_choice})` : ''}`;
  if (row.status === 'cancelled') return 'Already cancelled';
  return `Timed out at ${row.expires_at.toISOString()}`;
}

export type { Answer };

/**
 * The shared path of answering and cancelling: move a pending approval, still before its deadline,
 * with a conditional UPDATE (the first one wins). A miss is answered 409 naming what came first;
 * if that is an unfired timeout, it is settled on the way out.
 */
async function settleBeforeDeadline(
  db: Db,
  ctx: Ctx,
  scope: Scope,
  id: string,
  links: Links,
  changes: (current: ApprovalRecord, now: Date) => Updateable<ApprovalsTable>,
  fast?: { to: Settling; valid?: Expression<SqlBool> },
  vote?: Vote,
): Promise<ApprovalView> {
  if (fast && isUuid(id)) {
    const view = await settleInOneStatement(db, ctx, scope, id, links, fast.to, fast.valid);
    if (view) return view;
  }
  // Only when the common case matched nothing: read the row, to say why (or apply `changes`,
  // which refuse a bad answer with a clear error), or to count a vote (locked: see votes.ts).
  let expired = false;
  try {
    return await inTransaction(db, async (tx) => {
      const current = await findApproval(tx, scope, id, Boolean(vote));
      const now = new Date();
      const set = changes(current, now);
      if (vote && current.approvals_required > 1 && current.status === 'pending' && current.expires_at > now)
        return vote(tx, current, set, now);
      const row = await tx
        .updateTable('approvals')
        .set({ ...set, response_at: now, updated_at: now })
        .where('id', '=', current.id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        const winner = await findApproval(tx, scope, id);
        expired = winner.status === 'pending';
        fail('not_pending', settledMessage(winner));
      }
      return settle(tx, ctx, row, links);
    });
  } finally {
    if (expired) await expireApproval(db, id, links);
  }
}

type Vote = (tx: Tx, current: ApprovalRecord, set: Updateable<ApprovalsTable>, now: Date) => Promise<ApprovalView>;

/** A vote on a question that takes a quorum (votes.ts), in the transaction that locked it: the
 *  vote, and if it decides the question, the status change, commit together. */
function voting(ctx: Ctx, answer: Answer, responder: Responder, decider: Decider, links: Links): Vote {
  return async (tx, current, set, now) => {
    const agreeing = await recordVote(tx, current, answer, responder, decider);
    const settles = votesSettle(current, answer.choice, agreeing);
    const row = settles
      ? await tx
          .updateTable('approvals')
          .set({ ...set, response_at: now, updated_at: now })
          .where('id', '=', current.id)
          .where('status', '=', 'pending')
          .returningAll()
          .executeTakeFirstOrThrow()
      : current;
    const [record] = await withDelivery(tx, [row]);
    const changes = [votedChange(ctx, record!, links, { ...answer, agreeing })];
    if (settles) changes.push(settlement(ctx, record!, links).change);
    await recordChanges(tx, changes);
    return approvalView(record!, links, audienceOf(ctx));
  };
}

/** Who may answer: a member with role approver or above (API, chat), or the holder of the signed
 *  link (the response page, actor `link`, for web and email questions), or the recipient phone
 *  (SMS, actor `link`). Agents never answer approvals. */
export async function decideApproval(
  db: Db,
  ctx: Ctx,
  id: string,
  answer: Answer,
  responder: Responder,
  links: Links & Pick<ApprovalSettings, 'channels'>,
): Promise<ApprovalView> {
  if (ctx.actor.type !== 'link') requireRole(ctx, 'approver');
  requireStorable('choice', answer.choice);
  requireStorable('text', answer.text);
  const byLink = ctx.actor.type === 'link' && ctx.channel === 'web';
  const decider = deciderOf(ctx, responder);
  // The response page decides only some channels' questions (ChannelRules.linkDecides).
  const linkDecides = linkDeciding(links.channels);
  return settleBeforeDeadline(
    db,
    ctx,
    { workspaceId: ctx.workspaceId },
    id,
    links,
    (current) => {
      // The link decides where Leash sent it: the question's channel, or an escalation step's.
      const sentLink = [
        current.channel,
        ...current.delivery.filter((d) => d.status === 'sent').map((d) => d.channel),
      ].some((c) => linkDecides.includes(c));
      if (byLink && !sentLink) fail('forbidden', `This question was sent by ${current.channel}: answer it there`);
      requireDecider(current, decider);
      if (!current.options.includes(answer.choice)) {
        invalid([
          { field: 'choice', message: `must be one of ${current.options.map((o) => JSON.stringify(o)).join(', ')}` },
        ]);
      }
      if (answer.text && !current.allow_text_response)
        invalid([{ field: 'text', message: 'this approval does not take a text response' }]);
      return {
        status: 'responded',
        response_choice: answer.choice,
        response_text: answer.text || null,
        responder: json(responder),
      };
    },
    {
      to: { status: 'responded', response_choice: answer.choice, response_text: answer.text || null, responder },
      // A question that takes a quorum is voted on, on the slow path.
      valid: sql<SqlBool>`approvals_required = 1 and options @> ${json([answer.choice])}::jsonb ${answer.text ? sql`and allow_text_response` : sql``} ${byLink ? sql`and (channel = any(${linkDecides}::text[]) or exists (select 1 from prompts p where p.approval_id = approvals.id and p.channel = any(${linkDecides}::text[]) and p.status = 'sent'))` : sql``} and ${deciderSql(decider)}`,
    },
    voting(ctx, answer, responder, decider, links),
  );
}

/** The asking agent withdraws its own question, or an approver (or above) withdraws any. Like an
 *  answer, a cancel after expires_at is too late: the timeout is settled instead. */
export async function cancelApproval(db: Db, ctx: Ctx, id: string, links: Links): Promise<ApprovalView> {
  const scope = scopeOf(ctx);
  if (!scope.agentId) requireRole(ctx, 'approver');
  return settleBeforeDeadline(db, ctx, scope, id, links, () => ({ status: 'cancelled' }), {
    to: { status: 'cancelled', response_choice: null, response_text: null, responder: null },
  });
}

/** Reads an approval, first settling its timeout if it is past due (the timer may not have fired
 *  yet, or no worker runs): nobody is ever shown `pending` after `expires_at`. */
export async function readApproval(db: Db, scope: Scope, id: string, links: Links): Promise<ApprovalRecord> {
  const row = await findApproval(db, scope, id);
  if (row.status !== 'pending' || row.expires_at.getTime() > Date.now()) return row;
  await expireApproval(db, row.id, links);
  return findApproval(db, scope, id);
}

const TIMEOUT_CTX = (workspaceId: string): Ctx => ({
  workspaceId,
  channel: 'system',
  actor: { type: 'system', id: null, display: 'timeout' },
});

/** Times out one approval if it is pending and due. Returns undefined when there was nothing to do. */
export async function expireApproval(db: Db, id: string, links: Links): Promise<ApprovalView | undefined> {
  return (await expireApprovals(db, [id], links)).get(id);
}

/**
 * Times out those of `ids` that are pending and due, in one transaction: one UPDATE, and one
 * statement for all their timeline rows, events and wake-ups. Timers firing together (a burst due
 * in the same second) commit once, instead of queueing one by one for the commit lock every
 * NOTIFYing transaction takes. Returns the views of the ones it timed out, by id.
 */
export async function expireApprovals(db: Db, ids: string[], links: Links): Promise<Map<string, ApprovalView>> {
  if (ids.length === 0) return new Map();
  return inTransaction(db, async (tx) => {
    const now = new Date();
    const rows = await tx
      .updateTable('approvals')
      .set((eb) => ({
        status: 'timed_out',
        response_choice: eb.ref('timeout_default'),
        via_timeout: true,
        response_at: now,
        updated_at: now,
      }))
      .where('id', 'in', ids)
      .where('status', '=', 'pending')
      .where('expires_at', '<=', now)
      .returningAll()
      .execute();
    const settled = (await withDelivery(tx, rows)).map((row) => settlement(TIMEOUT_CTX(row.workspace_id), row, links));
    await recordChanges(
      tx,
      settled.map((s) => s.change),
    );
    return new Map(settled.map((s) => [s.view.pause_id, s.view]));
  });
}

/** Called inside a stop's transaction: a stopped agent is waiting for no one. */
export async function cancelPendingApprovals(tx: Tx, ctx: Ctx, agentId: string, links: Links): Promise<number> {
  const now = new Date();
  // Those already past their deadline are left to time out: that outcome came first.
  const rows = await tx
    .updateTable('approvals')
    .set({ status: 'cancelled', response_at: now, updated_at: now })
    .where('agent_id', '=', agentId)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .returningAll()
    .execute();
  const records = await withDelivery(tx, rows);
  await recordChanges(
    tx,
    records.map((row) => settlement(ctx, row, links).change),
  );
  return rows.length;
}

export function isNotPending(err: unknown): err is LeashError {
  return err instanceof LeashError && err.code === 'not_pending';
}
