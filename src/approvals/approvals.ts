// Approvals (PausePoint's pause_request): asking, reading, listing. Deciding is in decide.ts.
import { sql, type RawBuilder } from 'kysely';
import { activityRow } from '../activity/timeline.js';
import { actingAgent, requireRole, type Ctx, type Scope } from '../context.js';
import { batchedPerDb, isUuid, iso, json, newId, type Db } from '../db/index.js';
import { outboxRow } from '../outbox/outbox.js';
import type { AgentRow, ApprovalRow, ApprovalStatus, PromptStatus } from '../db/schema.js';
import type { ChannelSet } from './channels.js';
import { fail, invalid, notFound } from '../errors.js';
import { toPage, type Page, type PageParams } from '../pagination.js';
import { linkUrl } from './links.js';
import { needsWorkerNow } from '../timer-horizon.js';
import { requireEnoughDeciders, resolveApprovers } from './deciders.js';
import { requestHash } from './request-hash.js';
import { timeoutMs, type PauseRequest } from './request.js';

export interface ApprovalSettings {
  publicUrl: string;
  secret: string;
  /** The channels a request may name, and those configured here (see ChannelSet). */
  channels: ChannelSet;
  /** MAX_PENDING_PER_RECIPIENT: beyond it a new approval for that recipient is 429 recipient_busy. */
  maxPendingPerRecipient: number;
  /** Told of each approval created (the process's metrics count them). */
  onCreated?: (channel: string) => void;
}

/** The wake-up key for a change to one approval (long-polls wait on it). */
export const approvalKey = (id: string) => `approval:${id}`;

/** Internal event: a new approval to deliver on its channel and to time out. Not a webhook event. */
export const APPROVAL_REQUESTED = 'approval.requested';

/** One recipient's state of an approval's question (contract §3.1 `delivery`): queued (not sent
 *  yet; `error` says why the last try failed), sent, failed (for good: `error`), or skipped (the
 *  approval was settled before it went out). */
export interface DeliveryState {
  channel: string;
  recipient: string;
  status: PromptStatus;
  sent_at: string | null;
  error: string | null;
}

/** One decider's vote (contract §3.1 `votes`), kept only where `approvals_required` > 1. */
export interface VoteView {
  choice: string;
  text: string | null;
  channel: string;
  member_id?: string;
  display: string;
  at: string;
}

/** An approval as its view needs it: the row, its prompts' states and its votes. */
export type ApprovalRecord = ApprovalRow & { delivery: DeliveryState[]; votes: VoteView[] };

/**
 * Who reads an approval, for its `url` (the response page, the power to answer web and email
 * questions): an `answerer` (a member who may decide) gets it for every channel; the asking
 * `agent` only for `web`, where it must pass the link on (anywhere else it could answer its own
 * question); a `reader` (a viewer) never. Events go to agents' runtimes, so they carry what an
 * agent may see.
 */
export type Audience = 'answerer' | 'agent' | 'reader';

export function audienceOf(ctx: Ctx): Audience {
  if (ctx.actor.type === 'agent') return 'agent';
  return ctx.actor.type === 'member' && ctx.role === 'viewer' ? 'reader' : 'answerer';
}

function urlFor(
  row: Pick<ApprovalRow, 'id' | 'channel'>,
  settings: Pick<ApprovalSettings, 'publicUrl' | 'secret'>,
  audience: Audience,
): string | null {
  if (audience === 'reader' || (audience === 'agent' && row.channel !== 'web')) return null;
  return linkUrl(settings.publicUrl, settings.secret, { approvalId: row.id });
}

export function approvalView(
  row: ApprovalRecord,
  settings: Pick<ApprovalSettings, 'publicUrl' | 'secret'>,
  audience: Audience,
) {
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
    request_hash: row.request_hash,
    approvers: row.approvers,
    approvals_required: row.approvals_required,
    votes: row.votes,
    escalation: row.escalation,
    remind_after_seconds: row.remind_after_seconds,
    url: urlFor(row, settings, audience),
    delivery: row.delivery,
  };
}

export type ApprovalView = ReturnType<typeof approvalView>;

/** A time as `iso` writes it (milliseconds, truncated like the driver's Date), in SQL. */
const isoSql = (ref: RawBuilder<unknown>) => sql`to_char(${ref} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The `delivery` of the approval whose id `approvalId` refers to, as json, in SQL: one probe of
 *  the prompts' approval index (none for most web approvals). An escalation step or reminder shows
 *  once it is due, and not at all if the approval settled before it. */
export function deliverySql(approvalId: RawBuilder<unknown>): RawBuilder<DeliveryState[]> {
  return sql<
    DeliveryState[]
  >`coalesce((select json_agg(json_build_object('channel', p.channel, 'recipient', p.recipient, 'status', p.status,
      'sent_at', ${isoSql(sql.ref('p.sent_at'))}, 'error', case when p.status in ('queued', 'failed') then p.last_error end) order by p.id)
    from prompts p where p.approval_id = ${approvalId}
      and (p.kind = 'question' or (p.status <> 'skipped' and (p.status <> 'queued' or p.attempts > 0 or p.next_attempt_at <= now())))), '[]'::json)`;
}

/** The `votes` of the approval `table` names, as json, in SQL: no probe unless it takes a quorum. */
export function votesSql(table: string): RawBuilder<VoteView[]> {
  const c = (column: keyof ApprovalRow) => sql.ref(`${table}.${column}`);
  return sql<VoteView[]>`case when ${c('approvals_required')} > 1 then coalesce((select json_agg(
      jsonb_build_object('choice', v.choice, 'text', v.text, 'channel', v.channel, 'display', v.display, 'at', ${isoSql(sql.ref('v.created_at'))})
      || case when v.member_id is null then '{}'::jsonb else jsonb_build_object('member_id', v.member_id) end order by v.id)
    from approval_votes v where v.approval_id = ${c('id')}), '[]'::json) else '[]'::json end`;
}

/** Rows read without their delivery states and votes get them here, in one query for all of them. */
export async function withDelivery(db: Db, rows: ApprovalRow[]): Promise<ApprovalRecord[]> {
  const ids = rows.map((r) => r.id);
  const found = ids.length
    ? await db
        .selectFrom('approvals as a')
        .select(['a.id', deliverySql(sql.ref('a.id')).as('delivery'), votesSql('a').as('votes')])
        .where('a.id', '=', sql<string>`any(${ids}::uuid[])`)
        .execute()
    : [];
  const byId = new Map(found.map((r) => [r.id, r]));
  return rows.map((r) => ({ ...r, delivery: byId.get(r.id)?.delivery ?? [], votes: byId.get(r.id)?.votes ?? [] }));
}

/**
 * `approvalView` of the row `table` names, for the agent audience (events), built in SQL as json
 * (keys in the same order), for a statement that writes an approval's event with its change in
 * one round trip (decide.ts). The url is the caller's: a keyed MAC is not computed in SQL.
 * test/approvals.test.ts holds the two equal.
 */
export function approvalViewSql(table: string, url: string): RawBuilder<unknown> {
  const c = (column: keyof ApprovalRow) => sql.ref(`${table}.${column}`);
  return sql`json_build_object(
    'pause_id', ${c('id')}, 'status', ${c('status')}, 'response_choice', ${c('response_choice')},
    'response_text', ${c('response_text')}, 'response_at', ${isoSql(c('response_at'))}, 'expires_at', ${isoSql(c('expires_at'))},
    'metadata', ${c('metadata')}, 'channel', ${c('channel')}, 'recipient', ${c('recipient')}, 'message', ${c('message')},
    'options', ${c('options')}, 'allow_text_response', ${c('allow_text_response')}, 'timeout_default', ${c('timeout_default')},
    'created_at', ${isoSql(c('created_at'))}, 'agent_id', ${c('agent_id')}, 'responder', ${c('responder')},
    'via_timeout', ${c('via_timeout')}, 'request_hash', ${c('request_hash')}, 'approvers', ${c('approvers')},
    'approvals_required', ${c('approvals_required')}, 'votes', ${votesSql(table)}, 'escalation', ${c('escalation')},
    'remind_after_seconds', ${c('remind_after_seconds')}, 'url', case when ${c('channel')} = 'web' then ${url}::text end,
    'delivery', ${deliverySql(c('id'))})`;
}

/** A prompt queued for later: the worker sends it when due, unless the approval has settled. */
interface LaterPrompt {
  id: string;
  channel: string;
  recipient: string;
  kind: 'escalation' | 'reminder';
  step: number | null;
  next_attempt_at: string;
}

interface Asked extends ApprovalRow {
  agent_run_state: string | null;
  agent_pause_mode: string | null;
  /** The recipient already had MAX_PENDING_PER_RECIPIENT pending approvals: nothing was written. */
  recipient_busy: boolean;
}

/** One approval to insert, with its timeline row and outbox event: JSON columns as values, except
 *  the act_ and ob_ ones, which activityRow and outboxRow have already serialized. */
interface NewApproval {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  requested_by: unknown;
  channel: string;
  recipient: string;
  message: string;
  options: unknown;
  allow_text_response: boolean;
  timeout_default: string | null;
  metadata: unknown;
  expires_at: string;
  request_hash: string;
  /** Member ids (src/approvals/deciders.ts), or null: any approver. */
  approvers: string[] | null;
  recipient_approves: boolean;
  approvals_required: number;
  escalation: unknown;
  remind_after_seconds: number | null;
  /** Escalation steps and the reminder: prompts queued for their time (null: none). */
  later: LaterPrompt[] | null;
  act_id: string;
  act_actor: string;
  act_channel: string;
  act_details: string;
  /** null: no approval.requested event (see src/timer-horizon.ts). */
  ob_id: string | null;
  ob_payload: string;
  /** The prompt that sends the question (null on web: nobody is notified). */
  pr_id: string | null;
  /** MAX_PENDING_PER_RECIPIENT (web approvals are not counted). */
  max_pending: number;
}

/**
 * Asking a human is outbound traffic: a paused agent (either mode) may not, nor a stopping or
 * stopped one. Each asking agent's row is read FOR KEY SHARE (in id order), so a pause or stop
 * (FOR UPDATE) committing at the same moment is either seen here or waits for the approval (and a
 * stop then cancels it), while message senders (FOR NO KEY UPDATE) never wait; an approval, its
 * timeline row, its outbox event and its prompt are written only if its agent may ask (a member's
 * always) and its recipient is not busy: a recipient's pending approvals are counted, those of
 * this batch included, so one process never admits more than the limit; processes creating for
 * one recipient at the same instant may each admit one over it.
 * The rows go in as one JSON array, so any number of approvals is one statement of fixed text.
 */
async function insertApprovals(db: Db, items: NewApproval[]): Promise<Asked[]> {
  const { rows } = await sql<Asked & { input_id: string }>`
    with input as (
      select * from json_to_recordset(${json(items)}::json) as x(
        id uuid, workspace_id uuid, agent_id uuid, requested_by jsonb, channel text, recipient text, message text,
        options jsonb, allow_text_response boolean, timeout_default text, metadata json, expires_at timestamptz, request_hash text, approvers jsonb, recipient_approves boolean,
        approvals_required int, escalation jsonb, remind_after_seconds int, later json, act_id uuid, act_actor text, act_channel text, act_details text, ob_id uuid, ob_payload text, pr_id uuid, max_pending int)
    ), a as (
      select id, run_state, pause_mode from agents where id in (select agent_id from input) order by id for key share
    ), busy as (
      select i.id, case when i.channel = 'web' then false else
          (select count(*) from approvals p where p.workspace_id = i.workspace_id and p.channel = i.channel and p.recipient = i.recipient
             and p.status = 'pending' and p.channel <> 'web')
          + row_number() over (partition by i.workspace_id, i.channel, i.recipient order by i.id) > i.max_pending end as busy
      from input i
    ), ins as (
      insert into approvals (id, workspace_id, agent_id, requested_by, channel, recipient, message, options, allow_text_response, timeout_default, metadata, expires_at, request_hash, approvers, recipient_approves, approvals_required, escalation, remind_after_seconds)
      select i.id, i.workspace_id, i.agent_id, i.requested_by, i.channel, i.recipient, i.message, i.options, i.allow_text_response, i.timeout_default, i.metadata, i.expires_at, i.request_hash, i.approvers, i.recipient_approves, i.approvals_required, i.escalation, i.remind_after_seconds
      from input i left join a on a.id = i.agent_id join busy b on b.id = i.id
      where (i.agent_id is null or (a.run_state = 'running' and a.pause_mode is null)) and not b.busy
      returning *
    ), pr as (
      insert into prompts (id, approval_id, workspace_id, channel, recipient)
      select i.pr_id, ins.id, ins.workspace_id, ins.channel, ins.recipient from input i join ins on ins.id = i.id where i.pr_id is not null
    ), later as (
      insert into prompts (id, approval_id, workspace_id, channel, recipient, kind, step, next_attempt_at)
      select l.id, ins.id, ins.workspace_id, l.channel, l.recipient, l.kind, l.step, l.next_attempt_at
      from input i join ins on ins.id = i.id
        cross join json_to_recordset(i.later) as l(id uuid, channel text, recipient text, kind text, step int, next_attempt_at timestamptz)
      where i.later is not null
    ), act as (
      insert into activity (id, workspace_id, agent_id, action, actor, channel, details)
      select i.act_id, i.workspace_id, i.agent_id, 'approval.requested', i.act_actor::jsonb, i.act_channel, i.act_details::jsonb from input i join ins on ins.id = i.id
    ), ob as (
      insert into outbox (id, workspace_id, agent_id, type, payload)
      select i.ob_id, i.workspace_id, i.agent_id, ${APPROVAL_REQUESTED}, i.ob_payload::json from input i join ins on ins.id = i.id where i.ob_id is not null
    )
    select i.id as input_id, ins.*, a.run_state as agent_run_state, a.pause_mode as agent_pause_mode, b.busy as recipient_busy
    from input i left join a on a.id = i.agent_id left join ins on ins.id = i.id join busy b on b.id = i.id`.execute(
    db,
  );
  const byId = new Map(rows.map((r) => [r.input_id, r]));
  return items.map((item) => byId.get(item.id)!);
}

/**
 * Creates are group-committed: concurrent ones (outside a caller's transaction) go to Postgres as
 * one statement and one commit, so under load a create costs a fraction of a round trip and of a
 * WAL flush rather than one each. A lone create goes at once.
 */
const insertApproval = batchedPerDb(insertApprovals, 200);

/** No NOTIFY: Postgres serializes the commits of every transaction that notifies (a global lock
 *  held through the WAL flush), which capped creates (bench/changes.md). Nothing waits on a new approval
 *  but the worker, which polls the outbox every OUTBOX_POLL_MS anyway. */
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
  if (!settings.channels.available.has(req.channel)) {
    fail('channel_unavailable', `The ${req.channel} channel is not configured on this Leash`);
  }
  requireConfigured(req, settings.channels);
  // Only when the question names approvers or a quorum: a plain approval costs no extra query.
  const listed = req.approvers && (await resolveApprovers(db, ctx.workspaceId, req.approvers, req.recipient));
  if (req.approvals_required > 1) await requireEnoughDeciders(db, ctx, req, listed?.ids ?? null, settings.channels);
  const id = newId();
  const agentId = agent?.id ?? null;
  const timeout = timeoutMs(req);
  const now = Date.now();
  const expiresAt = new Date(now + timeout).toISOString();
  const later = laterPrompts(req, now);
  const entry = activityRow(ctx, {
    action: 'approval.requested',
    agentId,
    details: { pause_id: id, channel: req.channel, recipient: req.recipient, expires_at: expiresAt },
  });
  const event = outboxRow({ workspaceId: ctx.workspaceId, agentId, type: APPROVAL_REQUESTED, data: { pause_id: id } });
  const row = await insertApproval(db, {
    id,
    workspace_id: ctx.workspaceId,
    agent_id: agentId,
    requested_by: ctx.actor,
    channel: req.channel,
    recipient: req.recipient,
    message: req.message,
    options: req.options,
    allow_text_response: req.allow_text_response,
    timeout_default: req.timeout_default,
    metadata: req.metadata,
    expires_at: expiresAt,
    request_hash: hashOf(req, agentId, expiresAt),
    approvers: listed?.ids ?? null,
    recipient_approves: listed?.recipientApproves ?? false,
    approvals_required: req.approvals_required,
    escalation: req.escalation,
    remind_after_seconds: req.remind_after_seconds,
    later: later.length ? later : null,
    act_id: entry.id,
    act_actor: entry.actor,
    act_channel: entry.channel,
    act_details: entry.details,
    ob_id: needsWorkerNow(req.channel, timeout) || later.length ? event.id : null,
    ob_payload: event.payload,
    pr_id: req.channel === 'web' ? null : newId(),
    max_pending: settings.maxPendingPerRecipient,
  });
  if (!row || (agentId && row.agent_run_state === null)) fail('AGENT_INACTIVE', `${agent!.name} no longer exists`);
  if (agentId && row.agent_run_state !== 'running')
    fail('AGENT_INACTIVE', `${agent!.name} is ${row.agent_run_state === 'stopped' ? 'stopped' : 'stopping'}`);
  if (row.agent_pause_mode)
    fail('AGENT_PAUSED_BY_OWNER', `${agent!.name} is paused by its owner (${row.agent_pause_mode})`);
  if (row.recipient_busy) {
    fail(
      'recipient_busy',
      `${req.recipient} already has ${settings.maxPendingPerRecipient} pending approvals on ${req.channel} in this workspace; wait until some are answered (MAX_PENDING_PER_RECIPIENT)`,
    );
  }
  // The prompt was written with the approval, queued: nothing has gone out yet.
  const delivery: DeliveryState[] =
    req.channel === 'web'
      ? []
      : [{ channel: req.channel, recipient: req.recipient, status: 'queued', sent_at: null, error: null }];
  settings.onCreated?.(req.channel);
  return approvalView({ ...row, delivery, votes: [] }, settings, audienceOf(ctx));
}

/** What exactly was asked (src/approvals/request-hash.ts). */
const hashOf = (req: PauseRequest, agentId: string | null, expiresAt: string) =>
  requestHash({
    agent_id: agentId,
    channel: req.channel,
    recipient: req.recipient,
    message: req.message,
    options: req.options,
    metadata: req.metadata as Record<string, unknown> | null,
    allow_text_response: req.allow_text_response,
    timeout_default: req.timeout_default,
    expires_at: expiresAt,
  });

/** Every channel an escalation step names must be on here, like the question's own. */
function requireConfigured(req: PauseRequest, channels: ChannelSet): void {
  const off = (req.escalation ?? []).flatMap((step, i) =>
    channels.available.has(step.channel)
      ? []
      : [{ field: `escalation.${i}.channel`, message: `the ${step.channel} channel is not configured on this Leash` }],
  );
  if (off.length) invalid(off);
}

/** The escalation steps and the reminder, as prompts queued for their time after `now`. */
function laterPrompts(req: PauseRequest, now: number): LaterPrompt[] {
  const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();
  const steps = (req.escalation ?? []).map((step, i) => ({
    id: newId(),
    channel: step.channel,
    recipient: step.recipient,
    kind: 'escalation' as const,
    step: i,
    next_attempt_at: at(step.after_seconds),
  }));
  if (req.remind_after_seconds === null) return steps;
  const reminder = {
    id: newId(),
    channel: req.channel,
    recipient: req.recipient,
    kind: 'reminder' as const,
    step: null,
    next_attempt_at: at(req.remind_after_seconds),
  };
  return [...steps, reminder];
}

/** The approvals with their delivery states and votes (one statement). */
const approvalRecords = (db: Db) =>
  db
    .selectFrom('approvals')
    .selectAll()
    .select([deliverySql(sql.ref('approvals.id')).as('delivery'), votesSql('approvals').as('votes')]);

/** `lock`: FOR UPDATE, so a vote counts every vote committed before it (src/approvals/votes.ts). */
export async function findApproval(db: Db, scope: Scope, id: string, lock = false): Promise<ApprovalRecord> {
  // Not a UUID: no such approval (every surface, not only the API's validated routes).
  if (!isUuid(id)) notFound(`Approval ${id}`);
  let q = approvalRecords(db).where('id', '=', id).where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  if (lock) q = q.forUpdate();
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
  audience: Audience,
): Promise<Page<ApprovalView>> {
  let q = approvalRecords(db).where('workspace_id', '=', scope.workspaceId);
  if (scope.agentId) q = q.where('agent_id', '=', scope.agentId);
  if (filter.agentId) q = q.where('agent_id', '=', filter.agentId);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, (r) => approvalView(r, settings, audience));
}
