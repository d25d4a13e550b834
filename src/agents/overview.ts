// The at-a-glance state of every agent (leash status; later the dashboard): one query.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { agentStatus } from './view.js';

export interface OverviewRow {
  workspace: string;
  workspace_id: string;
  name: string;
  status: string;
  pause: string;
  backlog: number;
  pending_approvals: number;
  open_sessions: number;
}

export async function overview(db: Db, workspaceId?: string): Promise<OverviewRow[]> {
  let q = db
    .selectFrom('agents as a')
    .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
    .select([
      'w.name as workspace',
      'w.id as workspace_id',
      'a.name',
      'a.run_state',
      'a.pause_mode',
      'a.pause_by',
      'a.pause_reason',
      'a.paused_at',
      'a.inbox_seq',
      'a.acked_seq',
      sql<number>`(select count(*)::int from sessions s where s.agent_id = a.id and s.status in ('running', 'paused'))`.as(
        'open_sessions',
      ),
      sql<number>`(select count(*)::int from approvals p where p.agent_id = a.id and p.status = 'pending')`.as(
        'pending_approvals',
      ),
    ])
    .where('a.deleted_at', 'is', null);
  if (workspaceId) q = q.where('a.workspace_id', '=', workspaceId);
  const rows = await q.orderBy('w.name').orderBy('a.name').execute();
  return rows.map((r) => ({
    workspace: r.workspace,
    workspace_id: r.workspace_id,
    name: r.name,
    status: agentStatus(r),
    pause: r.pause_mode
      ? `${r.pause_mode} since ${r.paused_at!.toISOString()} by ${r.pause_by?.display ?? '?'}${r.pause_reason ? ` (${r.pause_reason})` : ''}`
      : '-',
    backlog: Number(r.inbox_seq) - Number(r.acked_seq),
    pending_approvals: r.pending_approvals,
    open_sessions: r.open_sessions,
  }));
}
