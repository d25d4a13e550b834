// Approvals (PausePoint's pause_request): asking, reading, listing. Deciding is in decide.ts.
import { recordChange } from '../activity/timeline.js';
import { actingAgent, requireRole, type Ctx, type Scope } from '../context.js';
import { inTransaction, isUuid, iso, json, newId, type Db } from '../db/index.js';
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

/**
 * Asking a human is outbound traffic: a paused agent (either mode) may not, nor a stopping or
 * stopped one. The agent's state is read under a share lock, so a pause or stop committing at the
 * same moment is either seen here or waits for this approval (and a stop then cancels it).
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
  return inTransaction(db, async (tx) => {
    if (agent) {
      const now = await tx.selectFrom('agents').select(['run_state', 'pause_mode']).where('id', '=', agent.id).forShare().executeTakeFirstOrThrow();
      if (now.run_state !== 'running') fail('AGENT_INACTIVE', `${agent.name} is ${now.run_state === 'stopped' ? 'stopped' : 'stopping'}`);
      if (now.pause_mode) fail('AGENT_PAUSED_BY_OWNER', `${agent.name} is paused by its owner (${now.pause_mode})`);
    }
    const row = await tx
      .insertInto('approvals')
      .values({
        id: newId(),
        workspace_id: ctx.workspaceId,
        agent_id: agent?.id ?? null,
        requested_by: json(ctx.actor),
        channel: req.channel,
        recipient: req.recipient,
        message: req.message,
        options: json(req.options),
        allow_text_response: req.allow_text_response,
        timeout_default: req.timeout_default,
        metadata: req.metadata === null ? null : json(req.metadata),
        expires_at: new Date(Date.now() + timeoutMs(req)),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordChange(
      tx,
      ctx,
      {
        action: 'approval.requested',
        agentId: row.agent_id,
        details: { pause_id: row.id, channel: row.channel, recipient: row.recipient, expires_at: row.expires_at.toISOString() },
      },
      { workspaceId: row.workspace_id, agentId: row.agent_id, type: APPROVAL_REQUESTED, data: { pause_id: row.id } },
    );
    return approvalView(row, settings);
  });
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
