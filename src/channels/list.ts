// Every channel of this build, in the order the docs list them. Adding a channel is a folder under
// src/channels/ and one entry here (docs/architecture.md, "Adding a channel").
import type { Channel } from './channel.js';
import { email } from './email/index.js';
import { slack } from './slack/index.js';
import { sms } from './sms/index.js';
import { telegram } from './telegram/index.js';
import { web } from './web/index.js';

export const CHANNELS: readonly Channel[] = [sms, email, slack, telegram, web];
