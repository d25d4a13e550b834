// What the MCP tools need from Leash, as one small interface with two implementations: the server's
// own core (Streamable HTTP at /mcp, src/mcp/in-process.ts) and the agent SDK over the HTTP API
// (`leash mcp` on stdio, src/mcp/over-api.ts). The tools, their wording and their waits are shared.

/** The approval as the API shows it (contract §3.1), as much of it as the tools read. */
export interface ApprovalSeen {
  pause_id: string;
  status: 'pending' | 'responded' | 'timed_out' | 'cancelled';
  channel: string;
  recipient: string;
  response_choice: string | null;
  response_text: string | null;
  responder: { channel: string; display: string; member_id?: string } | null;
  via_timeout: boolean;
  expires_at: string;
  approvals_required?: number;
  votes?: unknown[];
}

/** The agent as /v1/agents/me shows it, as much of it as the tools read. */
export interface AgentSeen {
  id: string;
  name: string;
  status: 'active' | 'paused' | 'stopping' | 'inactive';
  pause: { mode: string; reason: string | null; by?: { display?: string } | null } | null;
}

/** The body of POST /v1/pause, as the tools build it. */
export interface AskBody {
  message: string;
  options: string[];
  channel: string;
  recipient: string;
  allow_text_response?: boolean;
  timeout_seconds?: number;
  timeout_default?: string | null;
  metadata?: Record<string, unknown>;
}

/** Both sides' errors carry the API's code and message (src/errors.ts, sdk/src/errors.ts). */
export interface Refusal {
  code: string;
  message: string;
}

export function refusalOf(err: unknown): Refusal | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e && typeof e.code === 'string' && typeof e.message === 'string'
    ? { code: e.code, message: e.message }
    : undefined;
}

export interface LeashPort {
  /** The calling agent, read now (the tools look at it again after every wait). */
  agent(signal?: AbortSignal): Promise<AgentSeen>;
  /** Creates the approval (once, however often a side has to retry sending it). */
  ask(body: AskBody, signal?: AbortSignal): Promise<ApprovalSeen>;
  /** The approval after up to `ms`: sooner once it is settled or (where the side can hear it) the
   *  agent's state changed. Rejects with the signal's reason when aborted. */
  wait(id: string, ms: number, signal: AbortSignal): Promise<ApprovalSeen>;
  /** Withdraws a pending approval; one settled meanwhile is left as it is. */
  cancel(id: string): Promise<void>;
}
