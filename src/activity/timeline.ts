// The append-only timeline. record() is always called with the transaction of the change it
// describes, so a change and its entry commit together or not at all.
import type { Ctx } from '../context.js';
import { sql } from 'kysely';
import { json, newId, type Db, type Tx } from '../db/index.js';
import { NOTIFY_CHANNEL, withDetail } from '../db/notifier.js';
import { OUTBOX_KEY, outboxRow, type OutboxEvent } from '../outbox/outbox.js';
import { agentKey } from '../wakeups.js';
import type { ActivityRow } from '../db/schema.js';
import { toPage, type Page, type PageParams } from '../pagination.js';

export interface ActivityEntry {
  action: string;
  agentId?: string | null;
  sessionId?: string | null;
  details?: Record<string, unknown>;
}

export function activityRow(ctx: Ctx, entry: ActivityEntry) {
  return {
    id: newId(),
    workspace_id: ctx.workspaceId,
    agent_id: entry.agentId ?? null,
    session_id: entry.sessionId ?? null,
    action: entry.action,
    actor: json(ctx.actor),
    channel: ctx.channel,
    details: json(ctx.via ? { ...entry.details, via: ctx.via } : (entry.details ?? {})),
  };
}

export async function record(tx: Tx, ctx: Ctx, entry: ActivityEntry): Promise<void> {
  await tx.insertInto('activity').values(activityRow(ctx, entry)).execute();
}

/** One state change's side effects: its timeline row, its outbox event and its wake-ups. */
export interface Change {
  ctx: Ctx;
  entry: ActivityEntry;
  event?: OutboxEvent;
  /** Extra wake-ups (long-polls, graceful stops), besides the outbox's and the agent's. */
  wake?: string[];
}

/**
 * A state change's side effects in one statement (one round trip): its timeline row, its outbox
 * event (which wakes the worker and the agent's streams), and any extra wake-ups (long-polls,
 * graceful stops). Called in the transaction of the change, so all of it commits with the change or
 * not at all.
 */
export async function recordChange(
  tx: Tx,
  ctx: Ctx,
  entry: ActivityEntry,
  event?: OutboxEvent,
  wake: string[] = [],
): Promise<void> {
  await recordChanges(tx, [{ ctx, entry, event, wake }]);
}

/** Many changes' side effects in one statement: a batch of timeouts commits as one. */
export async function recordChanges(tx: Tx, changes: Change[]): Promise<void> {
  if (changes.length === 0) return;
  const keys = new Set<string>();
  const events: ReturnType<typeof outboxRow>[] = [];
  for (const c of changes) {
    if (c.event) {
      const row = outboxRow(c.event);
      events.push(row);
      keys.add(OUTBOX_KEY);
      // The agent's streams read just this event (one row), not a window of recent ones.
      if (c.event.agentId) keys.add(withDetail(agentKey(c.event.agentId), row.id));
    }
    for (const k of c.wake ?? []) keys.add(k);
  }
  const notifications = [...keys].map((k) => sql`pg_notify(${NOTIFY_CHANNEL}, ${k})`);
  await tx
    .with('act', (db) => db.insertInto('activity').values(changes.map((c) => activityRow(c.ctx, c.entry))))
    .with('ob', (db) =>
      events.length ? db.insertInto('outbox').values(events) : db.selectNoFrom(sql<number>`1`.as('none')),
    )
    .selectNoFrom(sql`${notifications.length ? sql.join(notifications) : sql`null`}`.as('n'))
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

/** An agent's latest timeline entries, newest first, as rows (the dashboard's agent page). */
export async function recentActivity(
  db: Db,
  workspaceId: string,
  agentId: string,
  limit: number,
): Promise<ActivityRow[]> {
  return db
    .selectFrom('activity')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('agent_id', '=', agentId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Newest first. */
export async function listActivity(
  db: Db,
  workspaceId: string,
  agentId: string,
  page: PageParams,
): Promise<Page<ActivityView>> {
  let q = db.selectFrom('activity').selectAll().where('workspace_id', '=', workspaceId).where('agent_id', '=', agentId);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, activityView);
}
