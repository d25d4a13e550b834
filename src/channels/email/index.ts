import { z } from 'zod';
import type { Channel } from '../channel.js';
import { emailAdapter } from './adapter.js';

const EMAIL = z.email();

export const email: Channel = {
  name: 'email',
  recipientProblem: (recipient) =>
    EMAIL.safeParse(recipient).success ? undefined : 'must be an email address for channel email',
  // Leash sent the link to the recipient: the page is how they answer.
  linkDecides: true,
  recipientDecides: true,
  configured: (config) => Boolean(config.email.smtpUrl && config.email.from),
  adapter: emailAdapter,
};
