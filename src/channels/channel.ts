// One channel, as the composition root sees it: the facts the core needs (ChannelRules), whether
// this installation has its credentials, how the worker sends on it, and the vendor's inbound
// routes. A channel is a folder under src/channels/ whose index.ts exports one of these, plus one
// entry in src/channels/list.ts.
import type { FastifyInstance } from 'fastify';
import type { ChannelRules } from '../approvals/channels.js';
import type { Config } from '../config.js';
import type { Deps } from '../deps.js';
import type { ChannelAdapter } from './adapter.js';

export interface Channel extends ChannelRules {
  /** Whether this Leash has the credentials the channel needs. */
  configured(config: Config): boolean;
  /** How the worker sends the question and shows its outcome; none for web (nothing to send). */
  adapter?: ChannelAdapter;
  /** The vendor's requests to Leash (button presses, replies, commands), on the web server. */
  routes?: (app: FastifyInstance, deps: Deps) => Promise<void>;
}
