// The response page is the channel: nothing to send, nothing to configure. The page itself
// (src/http/routes/response-page.ts) serves every channel's links, so it is not this folder's.
import { z } from 'zod';
import type { Channel } from '../channel.js';

const EMAIL = z.email();
const UUID = z.uuid();

export const web: Channel = {
  name: 'web',
  recipientProblem: (recipient) =>
    EMAIL.safeParse(recipient).success || UUID.safeParse(recipient).success
      ? undefined
      : 'must be an email address or a member id for channel web',
  linkDecides: true,
  recipientDecides: true,
  configured: () => true,
};
