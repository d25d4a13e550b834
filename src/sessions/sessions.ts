// Sessions: one task run of an agent. running ⇄ paused → cancelled | completed; a finished session
// never changes again. Controls are owner members or the agent itself; `complete` is the agent's.
import { record, recordChange } from '../activity/timeline.js';
import { actingAgent, requireRole, scopeOf, type Ctx, type Scope } from '../context.js';
import { inTransaction, isUuid, iso, json, newId, type Db, type Tx } from '../db/index.js';
import type { AgentRow, SessionRow, SessionStatus } from '../db/schema.js';
import { fail, notFound } from '../errors.js';
import { toPage, type Page, type PageParams } from '../pagination.js';

export function sessionView(row: SessionRow) {
  return {
    id: row.id,
    agent_id: row.agent_id,
    task: row.task,
    metadata: row.metadata,
    status: row.status,
    paused_at: iso(row.paused_at),
    finished_at: iso(row.finished_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export type SessionView = ReturnType<typeof sessionView>;

export async function createSession(
  db: Db,
  ctx: Ctx,
  agent: AgentRow,
  input: { task?: string | null; metadata?: Record<string, unknown> | null },
): Promise<SessionView> {
  if (actingAgent(ctx) !== agent.id) fail('forbidden', 'Only an agent opens its own sessions');
  return inTransaction(db, async (tx) => {
    // Read under a share lock: a stop committing concurrently either waits for this session (and
    // then cancels it) or is seen here.
    const current = await tx
      .selectFrom('agents')
      .select('run_state')
      .where('id', '=', agent.id)
      .forShare()
      .executeTakeFirstOrThrow();
    if (current.run_state !== 'running')
      fail('AGENT_INACTIVE', `${agent.name} is ${current.run_state}; start it before opening sessions`);
    const row = await tx
      .insertInto('sessions')
      .values({
        id: newId(),
        workspace_id: agent.workspace_id,
        agent_id: agent.id,
        task: input.task ?? null,
        metadata: input.metadata == null ? null : json(input.metadata),
        status: 'running',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await record(tx, ctx, {
      action: 'session.created',
      agentId: agent.id,
      sessionId: row.id,
      details: { task: row.task },
    });
    return sessionView(row);
  });
}

async function findSession(db: Db, scope: Scope, id: string): Promise<SessionRow> {
  // Not a UUID: no such session (every surface, not only the API's validated routes).
  if (!isUuid(id)) notFound(`Session ${id}`);
  let q = db.selectFrom('sessions').selectAll().where('id', '=', id).where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  const row = await q.executeTakeFirst();
  if (!row) notFound(`Session ${id}`);
  return row;
}

export async function getSession(db: Db, ctx: Ctx, id: string): Promise<SessionView> {
  return sessionView(await findSession(db, scopeOf(ctx), id));
}

/** An agent's latest sessions, newest first, as rows (the dashboard's agent page). */
export async function recentSessions(db: Db, scope: Scope, agentId: string, limit: number): Promise<SessionRow[]> {
  let q = db.selectFrom('sessions').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  return q.where('agent_id', '=', agentId).orderBy('id', 'desc').limit(limit).execute();
}

/** The agent a session belongs to, if the session is there for `scope` to see. */
export async function agentOfSession(db: Db, scope: Scope, id: string): Promise<string | undefined> {
  if (!isUuid(id)) return undefined;
  let q = db
    .selectFrom('sessions')
    .select('agent_id')
    .where('id', '=', id)
    .where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  return (await q.executeTakeFirst())?.agent_id;
}

/** Newest first. */
export async function listSessions(
  db: Db,
  ctx: Ctx,
  filter: { agentId?: string; status?: SessionStatus },
  page: PageParams,
): Promise<Page<SessionView>> {
  const scope = scopeOf(ctx);
  let q = db.selectFrom('sessions').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  if (filter.agentId) q = q.where('agent_id', '=', filter.agentId);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, sessionView);
}

type Verb = 'pause' | 'resume' | 'cancel' | 'complete';

const TRANSITIONS: Record<Verb, { from: SessionStatus[]; to: SessionStatus; action: string; event?: string }> = {
  pause: { from: ['running'], to: 'paused', action: 'session.paused', event: 'session.paused' },
  resume: { from: ['paused'], to: 'running', action: 'session.resumed', event: 'session.resumed' },
  cancel: { from: ['running', 'paused'], to: 'cancelled', action: 'session.cancelled', event: 'session.cancelled' },
  complete: { from: ['running', 'paused'], to: 'completed', action: 'session.completed' },
};

function refusal(verb: Verb, current: SessionStatus): never {
  if (current === 'cancelled' || current === 'completed') fail('already_finished', `The session is already ${current}`);
  if (verb === 'pause') fail('already_paused', 'The session is already paused');
  fail('not_paused', 'The session is not paused');
}

/** Owners control any session of the workspace; an agent its own; only the agent completes. */
async function transition(db: Db, ctx: Ctx, id: string, verb: Verb): Promise<SessionView> {
  const t = TRANSITIONS[verb];
  const scope = scopeOf(ctx);
  if (!scope.agentId) {
    if (verb === 'complete') fail('forbidden', 'Only the agent itself completes its session');
    requireRole(ctx, 'owner');
  }
  return inTransaction(db, async (tx) => {
    const session = await findSession(tx, scope, id);
    const now = new Date();
    const row = await tx
      .updateTable('sessions')
      .set({
        status: t.to,
        updated_at: now,
        paused_at: t.to === 'paused' ? now : null,
        ...(t.to === 'cancelled' || t.to === 'completed' ? { finished_at: now } : {}),
      })
      .where('id', '=', session.id)
      .where('status', 'in', t.from)
      .returningAll()
      .executeTakeFirst();
    if (!row) refusal(verb, (await findSession(tx, scope, id)).status);
    const event = t.event
      ? { workspaceId: row.workspace_id, agentId: row.agent_id, type: t.event, data: sessionView(row) }
      : undefined;
    await recordChange(tx, ctx, { action: t.action, agentId: row.agent_id, sessionId: row.id }, event);
    return sessionView(row);
  });
}

export const pauseSession = (db: Db, ctx: Ctx, id: string) => transition(db, ctx, id, 'pause');
export const resumeSession = (db: Db, ctx: Ctx, id: string) => transition(db, ctx, id, 'resume');
export const cancelSession = (db: Db, ctx: Ctx, id: string) => transition(db, ctx, id, 'cancel');
export const completeSession = (db: Db, ctx: Ctx, id: string) => transition(db, ctx, id, 'complete');

/** Called inside a stop's transaction: a stopped agent runs no tasks. Returns how many were cancelled. */
export async function cancelOpenSessions(tx: Tx, ctx: Ctx, agentId: string, reason: string): Promise<number> {
  const now = new Date();
  const rows = await tx
    .updateTable('sessions')
    .set({ status: 'cancelled', finished_at: now, paused_at: null, updated_at: now })
    .where('agent_id', '=', agentId)
    .where('status', 'in', ['running', 'paused'])
    .returningAll()
    .execute();
  for (const row of rows) {
    const event = { workspaceId: row.workspace_id, agentId, type: 'session.cancelled', data: sessionView(row) };
    await recordChange(
      tx,
      ctx,
      { action: 'session.cancelled', agentId, sessionId: row.id, details: { reason } },
      event,
    );
  }
  return rows.length;
}
