// The pending approvals a caller may see, for the surfaces that list them (the dashboard, and
// /approvals on Slack and Telegram). The scope (the member's workspace, an agent only its own)
// is applied here, once, as for every other read of approvals.
import type { Scope } from '../context.js';
import type { Db } from '../db/index.js';
import type { ApprovalRow } from '../db/schema.js';

export interface PendingPage {
  /** Soonest deadline first. */
  rows: ApprovalRow[];
  /** Whether more are pending than `limit`. */
  more: boolean;
}

/** At most `limit` pending approvals, soonest deadline first. `answerable` leaves out those past
 *  their deadline whose timeout has not run yet: a chat list offers buttons that could only fail. */
export async function pendingApprovals(
  db: Db,
  scope: Scope,
  opts: { limit: number; answerable?: boolean },
): Promise<PendingPage> {
  let q = db
    .selectFrom('approvals')
    .selectAll()
    .where('workspace_id', '=', scope.workspaceId)
    .where('status', '=', 'pending');
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  if (opts.answerable) q = q.where('expires_at', '>', new Date());
  const rows = await q
    .orderBy('expires_at')
    .limit(opts.limit + 1)
    .execute();
  return { rows: rows.slice(0, opts.limit), more: rows.length > opts.limit };
}
