// Channel adapters: how an approval reaches a human and how its message is updated afterwards.
// Issues 5–8 register Slack, Telegram, SMS and email here. The core never imports this module: it
// only receives the set of available channel names (Deps.approvals.channels).
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import type { ApprovalChannel, ApprovalRow } from '../db/schema.js';

export interface ChannelAdapter {
  /** Whether this Leash has the credentials the channel needs. */
  configured(config: Config): boolean;
  /** Sends the question; returns where it went (stored as channel_ref, for later edits). */
  send(deps: Deps, approval: ApprovalRow): Promise<Record<string, unknown> | null>;
  /** The approval left pending (answered anywhere, timed out, cancelled): show the outcome. */
  settled?(deps: Deps, approval: ApprovalRow): Promise<void>;
}

export const adapters: Partial<Record<ApprovalChannel, ChannelAdapter>> = {};

/** `web` needs nothing: the question is answered on the response page or through the API. */
export function availableChannels(config: Config): Set<ApprovalChannel> {
  const out = new Set<ApprovalChannel>(['web']);
  for (const [name, adapter] of Object.entries(adapters)) if (adapter.configured(config)) out.add(name as ApprovalChannel);
  return out;
}
