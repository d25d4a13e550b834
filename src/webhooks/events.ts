// The events a workspace can subscribe to (contract §5). Other outbox events are internal.
export const WEBHOOK_EVENTS = [
  'pause_request.responded',
  'pause_request.timed_out',
  'pause_request.cancelled',
  'pause_request.voted',
  'pause_request.escalated',
  'pause_request.send_failed',
  'agent.paused',
  'agent.unpaused',
  'agent.stop_requested',
  'agent.stopped',
  'agent.started',
  'session.paused',
  'session.resumed',
  'session.cancelled',
] as const;

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The events an agent itself receives, on its delivery_url and as control frames on its stream:
 *  its own agent.*, session.* and pause_request.* events. A POSIX regex, for Postgres's `~` (the
 *  fan-out, delivery ordering and the stream each select by it). */
export const AGENT_EVENTS = '^(agent|session|pause_request)\\.';
