// The approval that an answer names, where the answer itself is the key: a chat button or note
// (the answerer must then be confirmed in the approval's workspace, src/chat/answer.ts) or a
// signed response-page link (holding it is the authority, contract §3.1). Neither names a
// workspace, so these reads take none; the checks that follow are the caller's, by design.
import { isUuid, type Db } from '../db/index.js';
import type { ApprovalRow } from '../db/schema.js';
import type { ApprovalSettings } from './approvals.js';
import { expireApproval } from './decide.js';
import type { LinkTarget } from './links.js';

type Links = Pick<ApprovalSettings, 'publicUrl' | 'secret'>;

/** The approval of this id, in whichever workspace; none for an id that is not a UUID. */
export async function approvalById(db: Db, id: string): Promise<ApprovalRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The approval a signed link names, as its page shows it: past its deadline but with the timer
 *  not fired yet, it is settled first, so the page tells the truth. */
export async function linkedApproval(db: Db, target: LinkTarget, links: Links): Promise<ApprovalRow | undefined> {
  const a = await approvalById(db, target.approvalId);
  if (!a || a.status !== 'pending' || a.expires_at.getTime() > Date.now()) return a;
  await expireApproval(db, a.id, links);
  return approvalById(db, a.id);
}

/** Who asks, as a page names them: the asking agent's display name (or name), else who created it. */
export async function askedBy(db: Db, a: Pick<ApprovalRow, 'agent_id' | 'requested_by'>): Promise<string> {
  if (!a.agent_id) return a.requested_by.display;
  const agent = await db
    .selectFrom('agents')
    .select(['name', 'display_name'])
    .where('id', '=', a.agent_id)
    .executeTakeFirst();
  return agent ? (agent.display_name ?? agent.name) : a.requested_by.display;
}

/** Whom a response-page answer is credited to: the link's addressee, by name when it was sent to
 *  a member by id (an id means nothing to whoever reads the outcome). */
export async function linkHolder(db: Db, a: Pick<ApprovalRow, 'recipient' | 'workspace_id'>): Promise<string> {
  if (!isUuid(a.recipient)) return `link sent to ${a.recipient}`;
  const m = await db
    .selectFrom('members')
    .select(['email', 'display_name'])
    .where('id', '=', a.recipient)
    .where('workspace_id', '=', a.workspace_id)
    .executeTakeFirst();
  return `link sent to ${m ? (m.display_name ?? m.email) : a.recipient}`;
}
