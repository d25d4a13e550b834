import type { Channel } from '../channel.js';
import { smsAdapter } from './adapter.js';
import { registerSms } from './inbound.js';

const E164 = /^\+[1-9]\d{6,14}$/;

export const sms: Channel = {
  name: 'sms',
  recipientProblem: (recipient) =>
    E164.test(recipient) ? undefined : 'must be an E.164 phone number such as +15551234567 for channel sms',
  linkDecides: false,
  recipientDecides: true,
  configured: (config) => Boolean(config.twilio.accountSid && config.twilio.authToken && config.twilio.from),
  adapter: smsAdapter,
  routes: registerSms,
};
