// The API's objects, written by hand. Each one that mirrors a schema in docs/openapi.json lists its
// field names at run time too (the *_FIELDS constants, checked against the type by `fields`), so a
// test can hold them against the API document: a field the API adds, renames or drops fails it.

/** ISO 8601 UTC time. */
export type Timestamp = string;
export type Channel = 'sms' | 'email' | 'slack' | 'telegram' | 'web';
export type ApprovalStatus = 'pending' | 'responded' | 'timed_out' | 'cancelled';

export interface Responder {
  channel: string;
  member_id?: string;
  display: string;
}

export interface DeliveryState {
  channel: string;
  recipient: string;
  status: 'queued' | 'sent' | 'failed' | 'skipped';
  sent_at: Timestamp | null;
  error: string | null;
}

/** A vote towards `approvals_required` (a Leash extension the server may not serve yet). */
export interface Vote {
  choice: string;
  text: string | null;
  channel: string;
  member_id?: string;
  display: string;
  at: Timestamp;
}

/** An approval (`pause_request`), as `POST /v1/pause` and `GET /v1/pause/{id}` return it. */
export interface Approval {
  pause_id: string;
  status: ApprovalStatus;
  response_choice: string | null;
  response_text: string | null;
  response_at: Timestamp | null;
  expires_at: Timestamp;
  metadata: Record<string, unknown> | null;
  channel: string;
  recipient: string;
  message: string;
  options: string[];
  allow_text_response: boolean;
  timeout_default: string | null;
  created_at: Timestamp;
  agent_id: string | null;
  responder: Responder | null;
  via_timeout: boolean;
  url: string | null;
  delivery: DeliveryState[];
  /** Contract extensions, present once the server serves them. */
  approvers?: string[] | null;
  approvals_required?: number;
  votes?: Vote[];
  escalation?: EscalationStep[] | null;
  remind_after_seconds?: number | null;
  request_hash?: string;
}

/** Still pending `after_seconds` after creation, the question is also sent there. */
export interface EscalationStep {
  after_seconds: number;
  channel: string;
  recipient: string;
}

export interface PauseState {
  mode: 'send' | 'full';
  since: Timestamp;
  by: {
    type: 'member' | 'agent' | 'operator' | 'system' | 'link';
    id: string | null;
    display: string;
    channel: string;
  } | null;
  reason: string | null;
}

/** The agent object (`GET /v1/agents/me`). */
export interface Agent {
  id: string;
  name: string;
  display_name: string | null;
  status: 'active' | 'paused' | 'stopping' | 'inactive';
  pause: PauseState | null;
  paused_at: Timestamp | null;
  stopped_at: Timestamp | null;
  stop_deadline: Timestamp | null;
  backlog: { undelivered: number; oldest_at: Timestamp | null };
  presence: 'online' | 'offline';
  delivery_url: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A message in the inbox (`GET /v1/messages`, and the stream's `message` frames). */
export interface Message<B = unknown> {
  id: string;
  seq: number;
  from: string;
  from_id: string;
  body: B;
  created_at: Timestamp;
}

/** What `POST /v1/messages` answers: the message is stored, `seq` in the recipient's inbox. */
export interface SentMessage {
  id: string;
  to: string;
  seq: number;
  created_at: Timestamp;
}

export interface Session {
  id: string;
  agent_id: string;
  task: string | null;
  metadata: Record<string, unknown> | null;
  status: 'running' | 'paused' | 'cancelled' | 'completed';
  paused_at: Timestamp | null;
  finished_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** The body of `POST /v1/pause`, as the SDK sends it. */
export interface PauseRequestBody {
  recipient: string;
  channel: string;
  message: string;
  options: string[];
  allow_text_response?: boolean;
  timeout_seconds?: number;
  timeout_default?: string | null;
  metadata?: Record<string, unknown> | null;
  /** Extensions (contract §3.1), sent only when given. */
  approvers?: string[];
  approvals_required?: number;
  escalation?: EscalationStep[];
  remind_after_seconds?: number;
}

/** A control frame of the stream: one of the agent's own events as it happens. */
export interface ControlEvent<D = unknown> {
  type: 'control';
  event: ControlEventName;
  id: string;
  timestamp: Timestamp;
  data: D;
}

export type ControlEventName =
  | 'paused'
  | 'unpaused'
  | 'stop_requested'
  | 'stopped'
  | 'started'
  | 'session_paused'
  | 'session_resumed'
  | 'session_cancelled'
  | 'session_completed'
  | 'pause_request_responded'
  | 'pause_request_timed_out'
  | 'pause_request_cancelled'
  | 'pause_request_voted'
  | 'pause_request_escalated'
  | 'pause_request_send_failed'
  // Events the server may add later still reach a handler registered by name.
  | (string & {});

/** The stream's first frame. */
export interface ReadyFrame {
  type: 'ready';
  agent: Agent;
  acked_seq: number;
  window: number;
}

/** Lists every key of T, and only those: the compiler refuses a list that misses or invents one. */
function fields<T>() {
  return <const K extends readonly (keyof T)[]>(keys: K & ([keyof T] extends [K[number]] ? unknown : never)): K => keys;
}

export const APPROVAL_FIELDS = fields<Approval>()([
  'pause_id',
  'status',
  'response_choice',
  'response_text',
  'response_at',
  'expires_at',
  'metadata',
  'channel',
  'recipient',
  'message',
  'options',
  'allow_text_response',
  'timeout_default',
  'created_at',
  'agent_id',
  'responder',
  'via_timeout',
  'url',
  'delivery',
  'approvers',
  'approvals_required',
  'votes',
  'escalation',
  'remind_after_seconds',
  'request_hash',
]);
/** Fields of the contract that the SDK types as optional because a server may not serve them yet. */
export const APPROVAL_EXTENSION_FIELDS = [
  'approvers',
  'approvals_required',
  'votes',
  'escalation',
  'remind_after_seconds',
  'request_hash',
] as const;
export const RESPONDER_FIELDS = fields<Responder>()(['channel', 'member_id', 'display']);
export const DELIVERY_FIELDS = fields<DeliveryState>()(['channel', 'recipient', 'status', 'sent_at', 'error']);
export const AGENT_FIELDS = fields<Agent>()([
  'id',
  'name',
  'display_name',
  'status',
  'pause',
  'paused_at',
  'stopped_at',
  'stop_deadline',
  'backlog',
  'presence',
  'delivery_url',
  'created_at',
  'updated_at',
]);
export const PAUSE_STATE_FIELDS = fields<PauseState>()(['mode', 'since', 'by', 'reason']);
export const MESSAGE_FIELDS = fields<Message>()(['id', 'seq', 'from', 'from_id', 'body', 'created_at']);
export const SENT_MESSAGE_FIELDS = fields<SentMessage>()(['id', 'to', 'seq', 'created_at']);
export const SESSION_FIELDS = fields<Session>()([
  'id',
  'agent_id',
  'task',
  'metadata',
  'status',
  'paused_at',
  'finished_at',
  'created_at',
  'updated_at',
]);
export const PAGE_FIELDS = fields<Page<unknown>>()(['data', 'next_cursor']);
export const PAUSE_REQUEST_FIELDS = fields<PauseRequestBody>()([
  'recipient',
  'channel',
  'message',
  'options',
  'allow_text_response',
  'timeout_seconds',
  'timeout_default',
  'metadata',
  'approvers',
  'approvals_required',
  'escalation',
  'remind_after_seconds',
]);
export const PAUSE_REQUEST_EXTENSION_FIELDS = [
  'approvers',
  'approvals_required',
  'escalation',
  'remind_after_seconds',
] as const;
