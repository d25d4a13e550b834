// The approval as one prompt shows it, on every channel alike: a reminder and an escalation step
// say so before the question, and a question that takes a quorum says how far it has come ("1 of
// 2 approvals for Approve"). Adapters render the row they are given; this is that row.
import type { Db } from '../db/index.js';
import type { ApprovalRow, PromptRow } from '../db/schema.js';
import { agreeingVotes, tallyText } from './votes.js';

const LEAD: Record<string, string | undefined> = {
  reminder: 'Reminder: this still waits for an answer.',
  escalation: 'Escalated: nobody has answered this yet.',
};

export async function presented(db: Db, approval: ApprovalRow, prompt: Pick<PromptRow, 'kind'>): Promise<ApprovalRow> {
  const lead = LEAD[prompt.kind];
  const tally =
    approval.approvals_required > 1
      ? `${tallyText(await agreeingVotes(db, approval), approval.approvals_required)} for ${approval.options[0]}`
      : undefined;
  if (!lead && !tally) return approval;
  const message = [lead, approval.message, tally].filter(Boolean).join('\n');
  return { ...approval, message };
}
