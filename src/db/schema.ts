// Table types, written once from migrations/ (keep them in step when a migration changes a table).
import type { ColumnType, Generated, Selectable, Updateable } from 'kysely';

type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | string | undefined, Date | string>;
type Time = ColumnType<Date, Date | string, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export type Role = 'owner' | 'approver' | 'viewer';
export type PauseMode = 'send' | 'full';
export type RunState = 'running' | 'stopping' | 'stopped';
export type SessionStatus = 'running' | 'paused' | 'cancelled' | 'completed';

/** Who did something, through which surface. Stored on the timeline and on an agent's pause. */
export interface Actor {
  /** `link`: whoever holds an approval's signed response-page link. */
  type: 'member' | 'agent' | 'operator' | 'system' | 'link';
  id: string | null;
  display: string;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface MembersTable {
  id: string;
  workspace_id: string;
  email: string;
  role: Role;
  display_name: string | null;
  phone: string | null;
  slack_team_id: string | null;
  slack_user_id: string | null;
  telegram_user_id: string | null;
  /** When the holder confirmed each identity from it (a link code); null: an owner's claim, which never acts. */
  phone_confirmed_at: Time | null;
  slack_confirmed_at: Time | null;
  telegram_confirmed_at: Time | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface AgentsTable {
  id: string;
  workspace_id: string;
  name: string;
  display_name: string | null;
  run_state: ColumnType<RunState, RunState | undefined, RunState>;
  pause_mode: PauseMode | null;
  paused_at: Time | null;
  pause_by: Json<(Actor & { channel: string }) | null> | null;
  pause_reason: string | null;
  stop_deadline: Time | null;
  stopped_at: Time | null;
  delivery_url: string | null;
  delivery_secret: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  deleted_at: Time | null;
  /** The last seq given to a message for this agent, and the last one it acknowledged. */
  inbox_seq: ColumnType<string, string | number | undefined, string | number>;
  acked_seq: ColumnType<string, string | number | undefined, string | number>;
  backlog_since: Time | null;
  last_seen_at: Time | null;
  /** The delivery_url drain: consecutive failures, when it tries again, and why it failed. */
  drain_failures: ColumnType<number, number | undefined, number>;
  drain_retry_at: Time | null;
  drain_error: string | null;
}

export interface AgentStreamsTable {
  id: string;
  agent_id: string;
  opened_at: CreatedAt;
  seen_at: ColumnType<Date, Date | undefined, Date>;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  prefix: string;
  key_hash: Buffer;
  member_id: string | null;
  agent_id: string | null;
  created_at: CreatedAt;
  revoked_at: Time | null;
}

export interface SessionsTable {
  id: string;
  workspace_id: string;
  agent_id: string;
  task: string | null;
  metadata: Json<Record<string, unknown> | null> | null;
  status: SessionStatus;
  paused_at: Time | null;
  finished_at: Time | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface ActivityTable {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  session_id: string | null;
  action: string;
  actor: Json<Actor>;
  channel: string;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: CreatedAt;
}

export interface OutboxTable {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  type: string;
  payload: Json<Record<string, unknown>>;
  created_at: CreatedAt;
  dispatched_at: Time | null;
}

export interface IdempotencyKeysTable {
  principal_id: string;
  key: string;
  request_hash: string;
  status_code: number | null;
  response: Json<unknown> | null;
  created_at: Generated<Date>;
}

/** A channel's name (src/channels/list.ts). A row may name a channel this build no longer has. */
export type ApprovalChannel = string;
export type ApprovalStatus = 'pending' | 'responded' | 'timed_out' | 'cancelled';

/** Who answered an approval (contract §3.1). */
export interface Responder {
  channel: string;
  member_id?: string;
  display: string;
}

export interface ApprovalsTable {
  id: string;
  workspace_id: string;
  agent_id: string | null;
  requested_by: Json<Actor>;
  channel: ApprovalChannel;
  recipient: string;
  message: string;
  options: Json<string[]>;
  allow_text_response: ColumnType<boolean, boolean | undefined, boolean>;
  timeout_default: string | null;
  metadata: Json<Record<string, unknown> | null> | null;
  status: ColumnType<ApprovalStatus, ApprovalStatus | undefined, ApprovalStatus>;
  response_choice: string | null;
  response_text: string | null;
  response_at: Time | null;
  responder: Json<Responder | null> | null;
  via_timeout: ColumnType<boolean, boolean | undefined, boolean>;
  /** src/approvals/request-hash.ts; null on rows from before it. */
  request_hash: string | null;
  /** Member ids: when set, only they decide (src/approvals/deciders.ts). */
  approvers: Json<string[]> | null;
  /** The recipient is a listed approver: the response page's link counts as theirs. */
  recipient_approves: ColumnType<boolean, boolean | undefined, boolean>;
  /** Distinct deciders the first option needs (src/approvals/votes.ts). */
  approvals_required: ColumnType<number, number | undefined, number>;
  escalation: Json<EscalationStep[]> | null;
  remind_after_seconds: number | null;
  expires_at: Time;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export type PromptStatus = 'queued' | 'sent' | 'failed' | 'skipped';

/** Still pending `after_seconds` after creation, the question is also sent there. */
export interface EscalationStep {
  after_seconds: number;
  channel: ApprovalChannel;
  recipient: string;
}

/** Why a prompt was sent: the question itself, an escalation step (its index in `step`), or the reminder. */
export type PromptKind = 'question' | 'escalation' | 'reminder';

/** One decider's vote on an approval that needs several (contract §3.1 `votes`). */
export interface ApprovalVotesTable {
  id: string;
  approval_id: string;
  /** Who, counted distinct: `member:<id>`, or the channel and address of an unlinked recipient. */
  decider: string;
  choice: string;
  text: string | null;
  channel: string;
  member_id: string | null;
  display: string;
  created_at: CreatedAt;
}

/** An approval's question as sent to one recipient on one channel, and its outcome update. */
export interface PromptsTable {
  id: string;
  approval_id: string;
  workspace_id: string;
  channel: ApprovalChannel;
  recipient: string;
  status: ColumnType<PromptStatus, PromptStatus | undefined, PromptStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  claimed_at: Time | null;
  last_error: string | null;
  sent_at: Time | null;
  ref: Json<Record<string, unknown> | null> | null;
  outcome_attempts: ColumnType<number, number | undefined, number>;
  outcome_next_at: Time | null;
  outcome_at: Time | null;
  outcome_error: string | null;
  kind: ColumnType<PromptKind, PromptKind | undefined, PromptKind>;
  step: number | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

export interface WebhookEndpointsTable {
  id: string;
  workspace_id: string;
  url: string;
  events: string[] | null;
  secret: string;
  disabled_at: Time | null;
  disabled_reason: string | null;
  created_at: CreatedAt;
  deleted_at: Time | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveriesTable {
  id: string;
  workspace_id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string | null;
  agent_id: string | null;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  last_status: number | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  delivered_at: Time | null;
}

export interface MessagesTable {
  id: string;
  workspace_id: string;
  recipient_id: string;
  sender_id: string;
  seq: ColumnType<string, string | number, never>;
  body: Json<unknown>;
  created_at: CreatedAt;
}

export interface BlocksTable {
  agent_id: string;
  blocked_id: string;
  created_at: CreatedAt;
}

export interface InboundRequestsTable {
  source: string;
  key: string;
  received_at: CreatedAt;
}

export interface LinkCodesTable {
  code_hash: string;
  workspace_id: string;
  member_id: string;
  expires_at: Time;
  used_at: Time | null;
  created_at: CreatedAt;
}

/** The workspace a person's chat commands go to when they are confirmed in several and name none. */
export interface IdentityDefaultsTable {
  /** 'slack:T…:U…', 'telegram:123', 'phone:+1555…' */
  identity: string;
  workspace_id: string;
  updated_at: UpdatedAt;
}

export interface DashboardSessionsTable {
  token_hash: string;
  member_id: string;
  created_at: CreatedAt;
  expires_at: Time;
}

export interface LoginLinksTable {
  token_hash: string;
  member_id: string;
  expires_at: Time;
  used_at: Time | null;
}

export interface InstallationTable {
  id: ColumnType<boolean, boolean | undefined, never>;
  secret: string;
  created_at: CreatedAt;
}

export interface DB {
  workspaces: WorkspacesTable;
  members: MembersTable;
  agents: AgentsTable;
  api_keys: ApiKeysTable;
  sessions: SessionsTable;
  activity: ActivityTable;
  outbox: OutboxTable;
  idempotency_keys: IdempotencyKeysTable;
  approvals: ApprovalsTable;
  prompts: PromptsTable;
  approval_votes: ApprovalVotesTable;
  webhook_endpoints: WebhookEndpointsTable;
  deliveries: DeliveriesTable;
  messages: MessagesTable;
  blocks: BlocksTable;
  agent_streams: AgentStreamsTable;
  inbound_requests: InboundRequestsTable;
  link_codes: LinkCodesTable;
  identity_defaults: IdentityDefaultsTable;
  dashboard_sessions: DashboardSessionsTable;
  login_links: LoginLinksTable;
  installation: InstallationTable;
}

export type Workspace = Selectable<WorkspacesTable>;
export type Member = Selectable<MembersTable>;
export type AgentRow = Selectable<AgentsTable>;
export type SessionRow = Selectable<SessionsTable>;
export type ActivityRow = Selectable<ActivityTable>;
export type OutboxRow = Selectable<OutboxTable>;
export type MemberUpdate = Updateable<MembersTable>;
export type ApprovalRow = Selectable<ApprovalsTable>;
export type PromptRow = Selectable<PromptsTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type DeliveryRow = Selectable<DeliveriesTable>;
