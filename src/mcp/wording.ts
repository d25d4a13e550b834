// What the tools say back: Claude Code's permission result, and the reason behind each denial, in
// words a person reading the agent's transcript understands.
import type { AgentSeen, ApprovalSeen } from './port.js';

const CHANNEL_NAMES: Record<string, string> = {
  api: 'the API',
  cli: 'the CLI',
  dashboard: 'the dashboard',
  web: 'the web page',
  email: 'email',
  sms: 'SMS',
  slack: 'Slack',
  telegram: 'Telegram',
  mcp: 'MCP',
};

export const channelName = (channel: string): string => CHANNEL_NAMES[channel] ?? channel;

const PAUSE_NAMES: Record<string, string> = { send: 'soft pause', full: 'full pause' };

export type PermissionResult =
  { behavior: 'allow'; updatedInput: Record<string, unknown> } | { behavior: 'deny'; message: string };

export function duration(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** Why an agent that is not active may not go on: its pause (with who and why) or its stop. */
export function heldReason(agent: AgentSeen): string {
  if (agent.status === 'paused' && agent.pause) {
    const by = agent.pause.by?.display ? ` by ${agent.pause.by.display}` : ' by its owner';
    return `${agent.name} is paused${by} (${PAUSE_NAMES[agent.pause.mode] ?? agent.pause.mode})${agent.pause.reason ? `: ${agent.pause.reason}` : ''}`;
  }
  if (agent.status === 'stopping') return `${agent.name} is being stopped by its owner`;
  return `${agent.name} is stopped by its owner`;
}

/** The denial for a settled approval whose choice was not Allow. */
export function deniedBecause(a: ApprovalSeen, askedAt: number, agent: AgentSeen | undefined): string {
  if (a.status === 'cancelled') {
    return agent && agent.status !== 'active'
      ? `Denied: ${heldReason(agent)}`
      : 'Denied: the question was withdrawn in Leash before anyone answered';
  }
  if (a.status === 'timed_out' && a.response_choice === null) {
    const waited = (Date.parse(a.expires_at) - askedAt) / 1000;
    return `Denied: nobody answered within ${duration(Math.max(1, waited))} (no default for a timeout)`;
  }
  const who = a.responder ? `${a.responder.display} via ${channelName(a.responder.channel)}` : 'the timeout default';
  const by = a.via_timeout ? `Denied by the timeout default (${a.response_choice})` : `Denied by ${who}`;
  return a.response_text ? `${by}: ${a.response_text}` : by;
}

/** What a waiting tool reports as progress: who is being asked, and the quorum's count. */
export function waitingFor(a: ApprovalSeen, waitedMs: number): string {
  const quorum =
    a.approvals_required && a.approvals_required > 1
      ? `, ${a.votes?.length ?? 0} of ${a.approvals_required} approvals`
      : '';
  // A member's id says nothing to the one reading the progress.
  const who = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(a.recipient) ? 'an answer' : a.recipient;
  return `Waiting for ${who} on ${channelName(a.channel)} (${duration(waitedMs / 1000)}${quorum})`;
}
