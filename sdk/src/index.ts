export { Leash, type LeashOptions } from './client.js';
export {
  ApprovalDeniedError,
  DEFAULT_APPROVAL_OPTIONS,
  type ApprovalRequest,
  type AskOptions,
  type Decision,
} from './decisions.js';
export { parseDuration } from './duration.js';
export {
  AgentInactiveError,
  AgentPausedError,
  BlockedError,
  LeashError,
  NetworkError,
  NotFoundError,
  RateLimitedError,
  RecipientBackloggedError,
  RecipientInactiveError,
  type ErrorBody,
} from './errors.js';
export type { ControlHandler } from './events.js';
export type { FetchLike } from './http.js';
export type { MessagesOptions } from './messages.js';
export {
  verifyWebhook,
  WebhookVerificationError,
  type VerifyWebhookOptions,
  type WebhookEvent,
  type WebhookHeaders,
} from './webhooks.js';
export type {
  Agent,
  Approval,
  ApprovalStatus,
  Channel,
  ControlEvent,
  ControlEventName,
  DeliveryState,
  Message,
  Page,
  PauseState,
  Responder,
  SentMessage,
  Session,
  Timestamp,
  Vote,
} from './types.js';
