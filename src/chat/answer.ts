// Answering an approval from a chat surface, the same on every one: find the approval the button,
// note or reply names, find who answers (./identity.ts), decide through the core, and say what
// happened. Slack and Telegram answer only as a member confirmed in the approval's workspace; an
// SMS reply comes from the phone the question was sent to, which may answer like the holder of a
// signed link (contract §3.1), and is credited to its member where the phone is confirmed.
import { approvalById } from '../approvals/answering.js';
import type { ApprovalSettings } from '../approvals/approvals.js';
import { decideApproval } from '../approvals/decide.js';
import { tallyOf } from '../approvals/votes.js';
import type { Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { ApprovalRow, Responder } from '../db/schema.js';
import { memberName, memberResponder } from '../members/acting.js';
import { surfaceOf, type Identity } from '../members/identities.js';
import { sayError } from './commands.js';
import { actingIn } from './identity.js';

export interface AnswerDeps {
  db: Db;
  approvals: Pick<ApprovalSettings, 'publicUrl' | 'secret' | 'channels'>;
}

/** A pressed option: the approval's id and the option's index, as a button or a note prompt carries them. */
export interface Press {
  approvalId: string;
  option: number;
  /** The note that comes with the answer. */
  note?: string | null;
  /** The surface can ask for a note first (a modal, a forced reply): do so when the approval takes one. */
  canAskNote?: boolean;
}

export type Decided =
  /** `choice` and `note` are recorded; `tally`: a vote that has not decided the question yet. */
  | { recorded: true; choice: string; note: string | null; tally?: string }
  /** Nothing changed; `text` says why (the core's refusal, or who may not answer here). */
  | { recorded: false; text: string };

/** Or: ask for a note before deciding (the approval takes one and the surface can ask). */
export type Answered = Decided | { askNote: true; approval: ApprovalRow; choice: string };

/** The confirmation of a recorded answer; each surface ends the sentence its own way. */
export const recordedText = (choice: string, note: string | null | undefined, tally?: string) =>
  `Recorded: ${choice}${note ? ' (with your note)' : ''}${tally ? ` — ${tally}` : ''}`;

const NOT_HERE = 'That approval is not in your workspace.';

/** A button press or a note from Slack or Telegram: only a member confirmed in the approval's
 *  workspace answers (someone confirmed in several answers in each). */
export async function answerFromChat(deps: AnswerDeps, identity: Identity, press: Press): Promise<Answered> {
  const row = await approvalById(deps.db, press.approvalId);
  const choice = row?.options[press.option];
  if (!row || choice === undefined) return { recorded: false, text: NOT_HERE };
  const who = await actingIn(deps.db, identity, row.workspace_id);
  if ('refusal' in who) return { recorded: false, text: who.refusal };
  if (press.canAskNote && row.allow_text_response && row.status === 'pending')
    return { askNote: true, approval: row, choice };
  const responder = memberResponder(who.member, surfaceOf(identity));
  return decide(deps, who.ctx, row, { choice, note: press.note ?? null }, responder);
}

/** A reply from the phone the question was sent to. Any such phone may answer what was asked of
 *  it; a member is credited only where the phone is confirmed. */
export async function answerFromPhone(
  deps: AnswerDeps,
  phone: string,
  row: ApprovalRow,
  answer: { choice: string; note: string | null },
): Promise<Decided> {
  const who = await actingIn(deps.db, { kind: 'phone', phone }, row.workspace_id);
  const display = 'member' in who ? memberName(who.member) : phone;
  const ctx: Ctx = { workspaceId: row.workspace_id, channel: 'sms', actor: { type: 'link', id: null, display } };
  const responder: Responder = { channel: 'sms', display, ...('member' in who ? { member_id: who.member.id } : {}) };
  return decide(deps, ctx, row, answer, responder);
}

async function decide(
  deps: AnswerDeps,
  ctx: Ctx,
  row: ApprovalRow,
  answer: { choice: string; note: string | null },
  responder: Responder,
): Promise<Decided> {
  try {
    const view = await decideApproval(
      deps.db,
      ctx,
      row.id,
      { choice: answer.choice, text: answer.note },
      responder,
      deps.approvals,
    );
    const tally = view.status === 'pending' ? tallyOf(view) : undefined;
    return { recorded: true, ...answer, ...(tally ? { tally } : {}) };
  } catch (err) {
    return { recorded: false, text: sayError(err) };
  }
}
