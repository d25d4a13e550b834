// Approvals (PausePoint's pause_request): asking, reading, listing. Deciding is in decide.ts.
import { sql } from 'kysely';
import { activityRow } from '../activity/timeline.js';
import { actingAgent, requireRole, type Ctx, type Scope } from '../context.js';
import { isUuid, iso, json, newId, type Db } from '../db/index.js';
import { outboxRow } from '../outbox/outbox.js';
import type { AgentRow, ApprovalChannel, ApprovalRow, ApprovalStatus } from '../db/schema.js';
import { fail, notFound } from '../errors.js';
import { toPage, type Page, type PageParams } from '../pagination.js';
import { linkUrl } from './links.js';
import { timeoutMs, type PauseRequest } from './rules.js';

export interface ApprovalSettings {
  publicUrl: string;
  secret: string;
  /** Channels with credentials and an adapter; the rest are refused with channel_unavailable. */
  channels: ReadonlySet<ApprovalChannel>;
}

/** The wake-up key for a change to one approval (long-polls wait on it). */
export const approvalKey = (id: string) => `approval:${id}`;

/** Internal event: a new approval to deliver on its channel and to time out. Not a webhook event. */
export const APPROVAL_REQUESTED = 'approval.requested';

/** `withUrl: false` for readers who may not answer (viewers): the url is the power to answer. */
export function approvalView(row: ApprovalRow, settings: Pick<ApprovalSettings, 'publicUrl' | 'secret'>, withUrl = true) {
  return {
    pause_id: row.id,
    status: row.status,
    response_choice: row.response_choice,
    response_text: row.response_text,
    response_at: iso(row.response_at),
    expires_at: row.expires_at.toISOString(),
    metadata: row.metadata,
    channel: row.channel,
    recipient: row.recipient,
    message: row.message,
    options: row.options,
    allow_text_response: row.allow_text_response,
    timeout_default: row.timeout_default,
    created_at: row.created_at.toISOString(),
    agent_id: row.agent_id,
    responder: row.responder,
    via_timeout: row.via_timeout,
    url: withUrl ? linkUrl(settings.publicUrl, settings.secret, { approvalId: row.id }) : null,
  };
}

export type ApprovalView = ReturnType<typeof approvalView>;

interface Asked extends ApprovalRow {
  agent_run_state: string | null;
  agent_pause_mode: string | null;
}

/**
 * Asking a human is outbound traffic: a paused agent (either mode) may not, nor a stopping or
 * stopped one. One statement, in autocommit when it can be (one round trip, not five): the agent's
 * row is read FOR KEY SHARE, so a pause or stop (FOR UPDATE) committing at the same moment is
 * either seen here or waits for this approval (and a stop then cancels it), while message senders
 * (FOR NO KEY UPDATE) never wait; the approval, its timeline row and its outbox event are written
 * only if the agent may ask.
 *
 * No NOTIFY: Postgres serializes the commits of every transaction that notifies (a global lock
 * held through the WAL flush), which capped creates near 1,000/s. Nothing waits on a new approval
 * but the worker, which polls the outbox every OUTBOX_POLL_MS anyway.
 */
export async function createApproval(
  db: Db,
  ctx: Ctx,
  agent: AgentRow | undefined,
  req: PauseRequest,
  settings: ApprovalSettings,
): Promise<ApprovalView> {
  // An agent asks for itself; a member must be able to answer approvals to ask one.
  if (!agent) requireRole(ctx, 'approver');
  else if (actingAgent(ctx) !== agent.id) fail('forbidden', 'An agent asks only for itself');
  if (!settings.channels.has(req.channel)) {
    fail('channel_unavailable', `The ${req.channel} channel is not configured on this Leash`);
  }
  const id = newId();
  const agentId = agent?.id ?? null;
  const expiresAt = new Date(Date.now() + timeoutMs(req));
  const entry = activityRow(ctx, {
    action: 'approval.requested',
    agentId,
    details: { pause_id: id, channel: req.channel, recipient: req.recipient, expires_at: expiresAt.toISOString() },
  });
  const event = outboxRow({ workspaceId: ctx.workspaceId, agentId, type: APPROVAL_REQUESTED, data: { pause_id: id } });
  const asker = agentId
    ? sql`select run_state, pause_mode from agents where id = ${agentId} for key share`
    : sql`select 'running'::text as run_state, null::text as pause_mode`;
  const { rows } = await sql<Asked>`
    with a as (${asker}), ins as (
      insert into approvals (id, workspace_id, agent_id, requested_by, channel, recipient, message, options, allow_text_response, timeout_default, metadata, expires_at)
      select ${id}::uuid, ${ctx.workspaceId}::uuid, ${agentId}::uuid, ${json(ctx.actor)}::jsonb, ${req.channel}, ${req.recipient}, ${req.message}, ${json(req.options)}::jsonb,
        ${req.allow_text_response}::boolean, ${req.timeout_default}::text, ${req.metadata === null ? null : json(req.metadata)}::json, ${expiresAt}::timestamptz
      from a where a.run_state = 'running' and a.pause_mode is null
      returning *
    ), act as (
      insert into activity (id, workspace_id, agent_id, action, actor, channel, details)
      select ${entry.id}::uuid, ${entry.workspace_id}::uuid, ${entry.agent_id}::uuid, ${entry.action}, ${entry.actor}::jsonb, ${entry.channel}, ${entry.details}::jsonb from ins
    ), ob as (
      insert into outbox (id, workspace_id, agent_id, type, payload)
      select ${event.id}::uuid, ${event.workspace_id}::uuid, ${event.agent_id}::uuid, ${event.type}, ${event.payload}::json from ins
    )
    select ins.*, a.run_state as agent_run_state, a.pause_mode as agent_pause_mode
    from a left join ins on true`.execute(db);
  const row = rows[0];
  if (!row) fail('AGENT_INACTIVE', `${agent!.name} no longer exists`);
  if (row.agent_run_state !== 'running') fail('AGENT_INACTIVE', `${agent!.name} is ${row.agent_run_state === 'stopped' ? 'stopped' : 'stopping'}`);
  if (row.agent_pause_mode) fail('AGENT_PAUSED_BY_OWNER', `${agent!.name} is paused by its owner (${row.agent_pause_mode})`);
  return approvalView(row, settings);
}

export async function findApproval(db: Db, scope: Scope, id: string): Promise<ApprovalRow> {
  // Not a UUID: no such approval (every surface, not only the API's validated routes).
  if (!isUuid(id)) notFound(`Approval ${id}`);
  let q = db.selectFrom('approvals').selectAll().where('id', '=', id).where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  const row = await q.executeTakeFirst();
  if (!row) notFound(`Approval ${id}`);
  return row;
}

/** Newest first. */
export async function listApprovals(
  db: Db,
  scope: Scope,
  filter: { status?: ApprovalStatus; agentId?: string },
  page: PageParams,
  settings: ApprovalSettings,
  withUrl = true,
): Promise<Page<ApprovalView>> {
  let q = db.selectFrom('approvals').selectAll().where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  if (filter.agentId) q = q.where('agent_id', '=', filter.agentId);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q.orderBy('id', 'desc').limit(page.limit + 1).execute();
  return toPage(rows, page.limit, (r) => approvalView(r, settings, withUrl));
}
