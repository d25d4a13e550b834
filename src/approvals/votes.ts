// A quorum (contract §3.1 `approvals_required`): the first option wins once that many distinct
// deciders chose it; any other option is decided by one. Each vote is a row of approval_votes,
// unique per (approval, decider). A vote runs in the transaction that locked its approval (FOR
// UPDATE, src/approvals/decide.ts), so votes on one approval queue there, and each counts, in a
// statement that starts after the lock is held, every vote committed before it: the vote that
// completes the quorum and the status change commit together, and none is lost or counted twice.
import { sql } from 'kysely';
import type { Change } from '../activity/timeline.js';
import type { Ctx } from '../context.js';
import { newId, type Db, type Tx } from '../db/index.js';
import type { ApprovalRow, Responder } from '../db/schema.js';
import { fail } from '../errors.js';
import { approvalView, type ApprovalRecord, type ApprovalSettings } from './approvals.js';
import type { Decider } from './deciders.js';

/** A vote as given: the choice and its note. */
export interface Answer {
  choice: string;
  text?: string | null;
}

/** Who a vote is counted as: a member by id, anyone else by the channel and address they
 *  answered from (a phone; the response page's link, which is one per question). */
export function deciderKey(d: Decider, responder: Responder): string {
  return d.memberId ? `member:${d.memberId}` : `${responder.channel}:${responder.display.toLowerCase()}`;
}

/**
 * Records one vote on `current` (locked by the caller, still pending); returns how many distinct
 * deciders now agree on the first option. The same decider twice is refused, naming their vote.
 */
export async function recordVote(
  tx: Tx,
  current: ApprovalRecord,
  answer: Answer,
  responder: Responder,
  decider: Decider,
): Promise<number> {
  const key = deciderKey(decider, responder);
  const first = current.options[0]!;
  const { rows } = await sql<{ inserted: number; agreeing: number; earlier: string | null }>`
    with v as (
      insert into approval_votes (id, approval_id, decider, choice, text, channel, member_id, display)
      values (${newId()}, ${current.id}, ${key}, ${answer.choice}, ${answer.text || null}, ${responder.channel},
              ${responder.member_id ?? null}, ${responder.display})
      on conflict (approval_id, decider) do nothing
      returning choice
    )
    select (select count(*) from v)::int as inserted,
      ((select count(*) from approval_votes where approval_id = ${current.id} and choice = ${first})
        + (select count(*) from v where choice = ${first}))::int as agreeing,
      (select choice from approval_votes where approval_id = ${current.id} and decider = ${key}) as earlier`.execute(
    tx,
  );
  const r = rows[0]!;
  if (r.inserted === 0) fail('already_voted', `You already voted on this question (${r.earlier ?? 'recorded'})`);
  return r.agreeing;
}

/** Whether this vote decides the question: a dissent at once, the first option at the quorum. */
export const votesSettle = (
  current: Pick<ApprovalRecord, 'options' | 'approvals_required'>,
  choice: string,
  agreeing: number,
) => choice !== current.options[0] || agreeing >= current.approvals_required;

/** How many distinct deciders chose the first option so far. */
export async function agreeingVotes(db: Db, approval: Pick<ApprovalRow, 'id' | 'options'>): Promise<number> {
  const row = await db
    .selectFrom('approval_votes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('approval_id', '=', approval.id)
    .where('choice', '=', approval.options[0]!)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** "1 of 2 approvals": the quorum's progress, as every surface says it. */
export const tallyText = (agreeing: number, required: number) => `${agreeing} of ${required} approvals`;

/** The quorum's progress of an approval as read (its `votes`), in tallyText's words. */
export const tallyOf = (a: { votes: { choice: string }[]; options: string[]; approvals_required: number }) =>
  tallyText(a.votes.filter((v) => v.choice === a.options[0]).length, a.approvals_required);

/** The vote on the timeline and out as pause_request.voted (the approval with its votes). */
export function votedChange(
  ctx: Ctx,
  row: ApprovalRecord,
  links: Pick<ApprovalSettings, 'publicUrl' | 'secret'>,
  vote: Answer & { agreeing: number },
): Change {
  return {
    ctx,
    entry: {
      action: 'approval.voted',
      agentId: row.agent_id,
      details: {
        pause_id: row.id,
        choice: vote.choice,
        ...(vote.text ? { text: vote.text } : {}),
        approvals: vote.agreeing,
        approvals_required: row.approvals_required,
      },
    },
    event: {
      workspaceId: row.workspace_id,
      agentId: row.agent_id,
      type: 'pause_request.voted',
      data: approvalView(row, links, 'agent'),
    },
  };
}
