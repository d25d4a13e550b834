// The owner's controls: pause, unpause, stop, start, and the agent's own stop confirmation.
// Each is one transaction: a conditional UPDATE (so concurrent callers cannot both succeed), the
// timeline entry, and the outbox event. A miss is diagnosed only after the fact, for the error code.
import { record, recordChange } from '../activity/timeline.js';
import type { ApprovalSettings } from '../approvals/approvals.js';
import { cancelPendingApprovals } from '../approvals/decide.js';
import { actingAgent, requireRole, type Ctx } from '../context.js';
import { inTransaction, json, type Db, type Tx } from '../db/index.js';
import type { Notifier } from '../db/notifier.js';
import type { AgentRow, PauseMode } from '../db/schema.js';
import { fail } from '../errors.js';
import { agentKey, inboxKey } from '../wakeups.js';
import { cancelOpenSessions } from '../sessions/sessions.js';
import { hasLiveConnection } from './presence.js';
import { findAgent } from './registry.js';
import { agentView, type AgentView } from './view.js';
import { requireStorable } from '../storable-text.js';

type Links = Pick<ApprovalSettings, 'publicUrl' | 'secret'>;

/** The change's timeline row, its event (data: the agent as it now is) and wake-ups, as one statement. */
async function announce(
  tx: Tx,
  ctx: Ctx,
  row: AgentRow,
  action: string,
  details: Record<string, unknown>,
  wake: string[] = [],
) {
  const event = { workspaceId: row.workspace_id, agentId: row.id, type: action, data: agentView(row) };
  await recordChange(tx, ctx, { action, agentId: row.id, details }, event, wake);
}

export interface PauseInput {
  mode: PauseMode;
  reason?: string | null;
}

export async function pauseAgent(db: Db, ctx: Ctx, ref: string, input: PauseInput): Promise<AgentView> {
  requireRole(ctx, 'owner');
  requireStorable('reason', input.reason);
  return inTransaction(db, async (tx) => {
    const agent = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
    const row = await tx
      .updateTable('agents')
      .set((eb) => ({
        pause_mode: input.mode,
        // Switching mode keeps the original start: "paused since" is how long it has been held.
        paused_at: eb.fn.coalesce('paused_at', eb.val(new Date())),
        pause_by: json({ ...ctx.actor, channel: ctx.channel }),
        pause_reason: input.reason ?? null,
        updated_at: new Date(),
      }))
      .where('id', '=', agent.id)
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('pause_mode', 'is', null), eb('pause_mode', '!=', input.mode)]))
      .returningAll()
      .executeTakeFirst();
    if (!row) fail('already_paused', `${agent.name} is already paused (${input.mode})`);
    const previous = agent.pause_mode && agent.pause_mode !== input.mode ? { previous_mode: agent.pause_mode } : {};
    // Full → send releases what the full pause held: wake the inbox's readers, streams and drain.
    const release = agent.pause_mode === 'full' ? [inboxKey(row.id)] : [];
    await announce(
      tx,
      ctx,
      row,
      'agent.paused',
      { mode: input.mode, reason: input.reason ?? null, ...previous },
      release,
    );
    return agentView(row);
  });
}

export async function unpauseAgent(db: Db, ctx: Ctx, ref: string): Promise<AgentView> {
  requireRole(ctx, 'owner');
  return inTransaction(db, async (tx) => {
    const agent = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
    const row = await tx
      .updateTable('agents')
      .set({ pause_mode: null, paused_at: null, pause_by: null, pause_reason: null, updated_at: new Date() })
      .where('id', '=', agent.id)
      .where('deleted_at', 'is', null)
      .where('pause_mode', 'is not', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) fail('not_paused', `${agent.name} is not paused`);
    // Wakes readers waiting on the inbox: what a full pause held drains now, in seq order.
    await announce(
      tx,
      ctx,
      row,
      'agent.unpaused',
      { mode: agent.pause_mode, paused_at: agent.paused_at?.toISOString() },
      [inboxKey(row.id)],
    );
    return agentView(row);
  });
}

export interface StopInput {
  graceful: boolean;
  /** How long a graceful stop waits for the agent's confirmation, in ms. */
  timeout: number;
}

/** The final step of every stop, in the caller's transaction: inactive, open sessions and pending
 *  approvals cancelled (a stopped agent runs no task and waits for no answer). */
async function markStopped(
  tx: Tx,
  ctx: Ctx,
  agent: AgentRow,
  from: AgentRow['run_state'][],
  details: Record<string, unknown>,
  links: Links,
) {
  const now = new Date();
  const row = await tx
    .updateTable('agents')
    .set({ run_state: 'stopped', stopped_at: now, stop_deadline: null, updated_at: now })
    .where('id', '=', agent.id)
    .where('deleted_at', 'is', null)
    .where('run_state', 'in', from)
    .returningAll()
    .executeTakeFirst();
  if (!row) fail('not_running', `${agent.name} is already stopped`);
  const sessions = await cancelOpenSessions(tx, ctx, row.id, 'agent stopped');
  const approvals = await cancelPendingApprovals(tx, ctx, row.id, links);
  const counts = {
    ...(sessions ? { sessions_cancelled: sessions } : {}),
    ...(approvals ? { approvals_cancelled: approvals } : {}),
  };
  await announce(tx, ctx, row, 'agent.stopped', { ...details, ...counts });
  return row;
}

/**
 * Force: inactive at once. Graceful: inactive at once when nothing is connected to tell; otherwise
 * `stopping`, the runtime is told (`agent.stop_requested`), and we wait up to `timeout` for its
 * confirmation. No confirmation → 408 graceful_timeout, and the agent stays `stopping`.
 */
export async function stopAgent(
  db: Db,
  notifier: Notifier,
  ctx: Ctx,
  ref: string,
  input: StopInput,
  links: Links,
): Promise<AgentView> {
  requireRole(ctx, 'owner');
  const requested = await inTransaction(db, async (tx): Promise<{ stopped?: AgentRow; stopping?: AgentRow }> => {
    const agent = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
    if (agent.run_state === 'stopped') fail('not_running', `${agent.name} is not running`);
    if (!input.graceful) {
      return { stopped: await markStopped(tx, ctx, agent, ['running', 'stopping'], { graceful: false }, links) };
    }
    if (!(await hasLiveConnection(tx, agent))) {
      const details = { graceful: true, confirmed: false, note: 'no live connection' };
      return { stopped: await markStopped(tx, ctx, agent, ['running', 'stopping'], details, links) };
    }
    // Asking again while already stopping re-sends the request and restarts the deadline.
    const row = await tx
      .updateTable('agents')
      .set({ run_state: 'stopping', stop_deadline: new Date(Date.now() + input.timeout), updated_at: new Date() })
      .where('id', '=', agent.id)
      .where('deleted_at', 'is', null)
      .where('run_state', 'in', ['running', 'stopping'])
      .returningAll()
      .executeTakeFirstOrThrow();
    await announce(tx, ctx, row, 'agent.stop_requested', { timeout_ms: input.timeout });
    return { stopping: row };
  });
  if (requested.stopped) return agentView(requested.stopped);

  const agent = requested.stopping!;
  const done = await notifier.waitFor(agentKey(agent.id), input.timeout, async () => {
    const row = await db.selectFrom('agents').selectAll().where('id', '=', agent.id).executeTakeFirst();
    return row && row.run_state !== 'stopping' ? row : undefined;
  });
  if (!done) {
    fail(
      'graceful_timeout',
      `${agent.name} did not confirm the stop within ${input.timeout} ms; it stays stopping. Stop it with {"graceful": false} to force it.`,
    );
  }
  return agentView(done);
}

/** The agent's runtime reports that it has stopped (POST /v1/agents/me/stopped). */
export async function confirmStopped(db: Db, ctx: Ctx, agentId: string, links: Links): Promise<AgentView> {
  if (actingAgent(ctx) !== agentId) fail('forbidden', 'Only the agent itself confirms that it has stopped');
  return inTransaction(db, async (tx) => {
    const agent = await findAgent(tx, ctx.workspaceId, agentId, { forUpdate: true });
    const details = { graceful: true, confirmed: true, requested: agent.run_state === 'stopping' };
    const row = await markStopped(tx, ctx, agent, ['stopping', 'running'], details, links);
    return agentView(row);
  });
}

export async function startAgent(db: Db, ctx: Ctx, ref: string): Promise<AgentView> {
  requireRole(ctx, 'owner');
  return inTransaction(db, async (tx) => {
    const agent = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
    const row = await tx
      .updateTable('agents')
      .set({ run_state: 'running', stopped_at: null, stop_deadline: null, updated_at: new Date() })
      .where('id', '=', agent.id)
      .where('deleted_at', 'is', null)
      .where('run_state', '=', 'stopped')
      .returningAll()
      .executeTakeFirst();
    if (!row) fail('already_running', `${agent.name} is already running (${agent.run_state})`);
    // Messages held while it was stopped may go to its delivery_url again.
    await announce(tx, ctx, row, 'agent.started', {}, [inboxKey(row.id)]);
    return agentView(row);
  });
}

/** Deleting stops the agent first (the same path as a force stop: sessions and approvals
 *  cancelled, a waiting graceful stop woken), then keeps the row, and so the timeline, for audit;
 *  the name becomes free and the agent's keys stop working. */
export async function deleteAgent(db: Db, ctx: Ctx, ref: string, links: Links): Promise<void> {
  requireRole(ctx, 'owner');
  await inTransaction(db, async (tx) => {
    const agent = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
    if (agent.run_state !== 'stopped')
      await markStopped(tx, ctx, agent, ['running', 'stopping'], { graceful: false, reason: 'deleted' }, links);
    const now = new Date();
    await tx.updateTable('agents').set({ deleted_at: now, updated_at: now }).where('id', '=', agent.id).execute();
    await tx
      .updateTable('api_keys')
      .set({ revoked_at: now })
      .where('agent_id', '=', agent.id)
      .where('revoked_at', 'is', null)
      .execute();
    await record(tx, ctx, { action: 'agent.deleted', agentId: agent.id, details: { name: agent.name } });
  });
}
