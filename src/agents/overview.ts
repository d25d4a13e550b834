// The at-a-glance state of agents, with their open sessions and pending approvals, in one query:
// `leash status` (every workspace, or one) and /status on the chat surfaces read it.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { AgentRow } from '../db/schema.js';
import { agentStatus } from './view.js';

export interface AgentOverview {
  workspace: string;
  agent: AgentRow;
  open_sessions: number;
  pending_approvals: number;
}

/** Live agents by workspace name, then name: of one workspace (or every one), or one agent. */
export async function agentOverviews(
  db: Db,
  filter: { workspaceId?: string; agentId?: string; limit?: number } = {},
): Promise<AgentOverview[]> {
  let q = db
    .selectFrom('agents as a')
    .innerJoin('workspaces as w', 'w.id', 'a.workspace_id')
    .selectAll('a')
    .select([
      'w.name as workspace',
      sql<number>`(select count(*)::int from sessions s where s.agent_id = a.id and s.status in ('running', 'paused'))`.as(
        'open_sessions',
      ),
      sql<number>`(select count(*)::int from approvals p where p.agent_id = a.id and p.status = 'pending')`.as(
        'pending_approvals',
      ),
    ])
    .where('a.deleted_at', 'is', null);
  if (filter.workspaceId) q = q.where('a.workspace_id', '=', filter.workspaceId);
  if (filter.agentId) q = q.where('a.id', '=', filter.agentId);
  q = q.orderBy('w.name').orderBy('a.name');
  if (filter.limit) q = q.limit(filter.limit);
  const rows = await q.execute();
  return rows.map(({ workspace, open_sessions, pending_approvals, ...agent }) => ({
    workspace,
    agent,
    open_sessions,
    pending_approvals,
  }));
}

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

/** `leash status`: one flat row per agent. */
export async function overview(db: Db, workspaceId?: string): Promise<OverviewRow[]> {
  return (await agentOverviews(db, { workspaceId })).map(({ workspace, agent: a, ...counts }) => ({
    workspace,
    workspace_id: a.workspace_id,
    name: a.name,
    status: agentStatus(a),
    pause: a.pause_mode
      ? `${a.pause_mode} since ${a.paused_at!.toISOString()} by ${a.pause_by?.display ?? '?'}${a.pause_reason ? ` (${a.pause_reason})` : ''}`
      : '-',
    backlog: Number(a.inbox_seq) - Number(a.acked_seq),
    pending_approvals: counts.pending_approvals,
    open_sessions: counts.open_sessions,
  }));
}
