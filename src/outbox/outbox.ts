// Events leave through the outbox: a row written in the transaction of the change (recordChange in
// activity/timeline.ts), fanned out by the worker (jobs/dispatch-outbox.ts). The NOTIFY wakes
// the worker the moment the change commits; its sweep finds anything the wake-up missed.
import { json, newId } from '../db/index.js';

export const OUTBOX_KEY = 'outbox';

export interface OutboxEvent {
  workspaceId: string;
  agentId?: string | null;
  type: string;
  data: Record<string, unknown>;
}

export function outboxRow(event: OutboxEvent) {
  return {
    id: newId(),
    workspace_id: event.workspaceId,
    agent_id: event.agentId ?? null,
    type: event.type,
    payload: json({ type: event.type, timestamp: new Date().toISOString(), data: event.data }),
  };
}
