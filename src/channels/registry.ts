// Channel adapters by approval channel. The core never imports this module: it only receives the
// set of available channel names (Deps.approvals.channels).
import type { Config } from '../config.js';
import type { ApprovalChannel } from '../db/schema.js';
import type { ChannelAdapter } from './adapter.js';
import { emailAdapter } from './email/adapter.js';
import { slackAdapter } from './slack/adapter.js';
import { smsAdapter } from './sms/adapter.js';
import { telegramAdapter } from './telegram/adapter.js';

export type { ChannelAdapter } from './adapter.js';

export const adapters: Partial<Record<ApprovalChannel, ChannelAdapter>> = {
  slack: slackAdapter,
  telegram: telegramAdapter,
  sms: smsAdapter,
  email: emailAdapter,
};

/** `web` needs nothing: the question is answered on the response page or through the API. */
export function availableChannels(config: Config): Set<ApprovalChannel> {
  const out = new Set<ApprovalChannel>(['web']);
  for (const [name, adapter] of Object.entries(adapters))
    if (adapter.configured(config)) out.add(name as ApprovalChannel);
  return out;
}
