// The agent object of contract §3.2, derived from the row: `status` combines run state and pause.
import { iso } from '../db/index.js';
import type { AgentRow } from '../db/schema.js';

export type AgentStatus = 'active' | 'paused' | 'stopping' | 'inactive';

export function agentStatus(row: Pick<AgentRow, 'run_state' | 'pause_mode'>): AgentStatus {
  if (row.run_state === 'stopped') return 'inactive';
  if (row.run_state === 'stopping') return 'stopping';
  return row.pause_mode ? 'paused' : 'active';
}

const ONLINE_WITHIN_MS = 60_000;

/** Online while a stream is open (its heartbeat keeps last_seen_at fresh) or within 60 s of an
 *  inbox read (contract §3.4 presence). */
export function presenceOf(row: Pick<AgentRow, 'last_seen_at'>, now = Date.now()): 'online' | 'offline' {
  return row.last_seen_at && now - row.last_seen_at.getTime() < ONLINE_WITHIN_MS ? 'online' : 'offline';
}

export function agentView(row: AgentRow) {
  return {
    id: row.id,
    name: row.name,
    display_name: row.display_name,
    status: agentStatus(row),
    pause:
      row.pause_mode && row.paused_at
        ? { mode: row.pause_mode, since: row.paused_at.toISOString(), by: row.pause_by, reason: row.pause_reason }
        : null,
    paused_at: iso(row.paused_at),
    stopped_at: iso(row.stopped_at),
    stop_deadline: iso(row.stop_deadline),
    backlog: { undelivered: Number(row.inbox_seq) - Number(row.acked_seq), oldest_at: iso(row.backlog_since) },
    presence: presenceOf(row),
    delivery_url: row.delivery_url,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export type AgentView = ReturnType<typeof agentView>;

/** What another agent may see (GET /v1/directory/{name}): never the pause state. */
export function directoryView(row: AgentRow) {
  return { name: row.name, display_name: row.display_name, presence: presenceOf(row) };
}
