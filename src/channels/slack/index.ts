import type { Channel } from '../channel.js';
import { slackAdapter } from './adapter.js';
import { registerSlackEvents } from './events.js';

export const slack: Channel = {
  name: 'slack',
  // Plain http only where private targets are allowed too (development, tests).
  recipientProblem: (recipient, opts) =>
    /^[CDGUW][A-Z0-9]{2,}$/.test(recipient) || (opts.allowHttp ? /^https?:\/\/\S+$/ : /^https:\/\/\S+$/).test(recipient)
      ? undefined
      : 'must be a Slack channel or user ID (C…, U…) or an incoming-webhook URL for channel slack',
  linkDecides: false,
  recipientDecides: false,
  // Clicks must be able to come back: over the request URL (signing secret) or Socket Mode.
  configured: (config) => Boolean(config.slack.botToken && (config.slack.signingSecret || config.slack.appToken)),
  adapter: slackAdapter,
  routes: registerSlackEvents,
};
