// The append-only timeline. record() is always called with the transaction of the change it
// describes, so a change and its entry commit together or not at all.
import type { Ctx } from '../context.js';
import { json, newId, type Db, type Tx } from '../db/index.js';
import type { ActivityRow } from '../db/schema.js';
import { toPage, type Page, type PageParams } from '../pagination.js';

export interface ActivityEntry {
  action: string;
  agentId?: string | null;
  sessionId?: string | null;
  details?: Record<string, unknown>;
}

export async function record(tx: Tx, ctx: Ctx, entry: ActivityEntry): Promise<void> {
  await tx
    .insertInto('activity')
    .values({
      id: newId(),
      workspace_id: ctx.workspaceId,
      agent_id: entry.agentId ?? null,
      session_id: entry.sessionId ?? null,
      action: entry.action,
      actor: json(ctx.actor),
      channel: ctx.channel,
      details: json(entry.details ?? {}),
    })
    .execute();
}

export function activityView(row: ActivityRow) {
  return {
    id: row.id,
    action: row.action,
    agent_id: row.agent_id,
    session_id: row.session_id,
    actor: row.actor,
    channel: row.channel,
    details: row.details,
    created_at: row.created_at.toISOString(),
  };
}

export type ActivityView = ReturnType<typeof activityView>;

/** Newest first. */
export async function listActivity(db: Db, workspaceId: string, agentId: string, page: PageParams): Promise<Page<ActivityView>> {
  let q = db.selectFrom('activity').selectAll().where('workspace_id', '=', workspaceId).where('agent_id', '=', agentId);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q.orderBy('id', 'desc').limit(page.limit + 1).execute();
  return toPage(rows, page.limit, activityView);
}
