import type { Channel } from '../channel.js';
import { telegramAdapter } from './adapter.js';
import { registerTelegram } from './webhook.js';

export const telegram: Channel = {
  name: 'telegram',
  recipientProblem: (recipient) =>
    /^-?\d{1,20}$/.test(recipient) || /^@[A-Za-z0-9_]{5,32}$/.test(recipient)
      ? undefined
      : 'must be a Telegram chat ID for channel telegram',
  linkDecides: false,
  recipientDecides: false,
  // Presses must be able to come back: by the webhook (its secret) or by long polling.
  configured: (config) =>
    Boolean(config.telegram.botToken && (config.telegram.webhookSecret || config.telegram.polling)),
  adapter: telegramAdapter,
  routes: registerTelegram,
};
