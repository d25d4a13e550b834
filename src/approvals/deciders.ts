// Who may decide a given question, beyond the role (contract §3.1): never the member whose key
// asked it (self_approval), and, when the question names `approvers`, only they (not_an_approver).
// A decider is a member (API, chat, dashboard; SMS from a phone confirmed to a member), or the
// holder of the response page's link, which proves nobody's identity: it counts as a listed
// approver only when Leash sent it to one (the question's recipient is a listed approver).
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Ctx } from '../context.js';
import type { ChannelSet } from './channels.js';
import { isUuid, json, type Db } from '../db/index.js';
import type { ApprovalRow, Responder } from '../db/schema.js';
import { fail, invalid } from '../errors.js';

export interface Decider {
  memberId: string | null;
  /** The response page's link holder. */
  byPage: boolean;
}

export function deciderOf(ctx: Ctx, responder: Responder): Decider {
  if (ctx.actor.type === 'member') return { memberId: ctx.actor.id, byPage: false };
  return { memberId: responder.member_id ?? null, byPage: ctx.actor.type === 'link' && ctx.channel === 'web' };
}

type Asked = Pick<ApprovalRow, 'requested_by' | 'approvers' | 'recipient_approves'>;

/** Refuses a decider this question does not take (the slow path: the row is at hand). */
export function requireDecider(current: Asked, d: Decider): void {
  const asker = current.requested_by;
  if (d.memberId && asker.type === 'member' && asker.id === d.memberId) {
    fail('self_approval', 'You asked this question; another approver must answer it');
  }
  if (!current.approvers) return;
  if ((d.memberId && current.approvers.includes(d.memberId)) || (d.byPage && current.recipient_approves)) return;
  fail('not_an_approver', 'Only the approvers this question names may decide it');
}

/** The same rule as requireDecider, as a condition of the deciding UPDATE (the fast path). */
export function deciderSql(d: Decider): RawBuilder<SqlBool> {
  const listed = d.memberId ? sql`approvers @> ${json([d.memberId])}::jsonb` : sql`false`;
  const page = d.byPage ? sql`recipient_approves` : sql`false`;
  const notSelf = d.memberId
    ? sql`not (requested_by @> ${json({ type: 'member', id: d.memberId })}::jsonb)`
    : sql`true`;
  return sql<SqlBool>`(${notSelf} and (approvers is null or ${listed} or ${page}))`;
}

/** `approvers` as given (member ids or emails) → the members' ids, each entry checked. Listing
 *  someone who cannot decide (unknown, a viewer) is refused at create, naming the entry. */
export async function resolveApprovers(
  db: Db,
  workspaceId: string,
  entries: string[],
  recipient: string,
): Promise<{ ids: string[]; recipientApproves: boolean }> {
  const ids = entries.filter(isUuid);
  const emails = entries.filter((e) => !isUuid(e)).map((e) => e.toLowerCase());
  const members = await db
    .selectFrom('members')
    .select(['id', 'email', 'role'])
    .where('workspace_id', '=', workspaceId)
    .where((eb) =>
      eb.or([
        ...(ids.length ? [eb('id', 'in', ids)] : []),
        ...(emails.length ? [eb(eb.fn('lower', ['email']), 'in', emails)] : []),
      ]),
    )
    .execute();
  const find = (e: string) => members.find((m) => m.id === e || m.email.toLowerCase() === e.toLowerCase());
  const problems = entries.flatMap((e, i) => {
    const m = find(e);
    if (!m) return [{ field: `approvers.${i}`, message: 'no member of this workspace has this id or email' }];
    return m.role === 'viewer' ? [{ field: `approvers.${i}`, message: 'is a viewer, who cannot decide' }] : [];
  });
  if (problems.length) invalid(problems);
  const listed = [...new Set(entries.map((e) => find(e)!))];
  const r = recipient.toLowerCase();
  return {
    ids: listed.map((m) => m.id),
    recipientApproves: listed.some((m) => m.id === recipient || m.email.toLowerCase() === r),
  };
}

/** A quorum must be reachable: more distinct deciders than can answer (the listed approvers, or
 *  the workspace's approvers and owners, plus the recipient's own link or phone; never the asking
 *  member) is refused at create. */
export async function requireEnoughDeciders(
  db: Db,
  ctx: Ctx,
  req: { approvals_required: number; channel: string },
  listed: string[] | null,
  channels: ChannelSet,
): Promise<void> {
  const asker = ctx.actor.type === 'member' ? ctx.actor.id : null;
  let possible: number;
  if (listed) possible = listed.filter((id) => id !== asker).length;
  else {
    let q = db
      .selectFrom('members')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('workspace_id', '=', ctx.workspaceId)
      .where('role', 'in', ['approver', 'owner']);
    if (asker) q = q.where('id', '!=', asker);
    const row = await q.executeTakeFirstOrThrow();
    const recipient = channels.known.find((c) => c.name === req.channel)?.recipientDecides;
    possible = Number(row.n) + (recipient ? 1 : 0);
  }
  if (req.approvals_required > possible) {
    invalid([
      {
        field: 'approvals_required',
        message: `needs ${req.approvals_required} distinct deciders, but only ${possible} can decide this question`,
      },
    ]);
  }
}
