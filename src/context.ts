// Who is acting, for which workspace, through which surface. Every core action takes one; adapters
// build it after authenticating, so the core never needs to know about HTTP, Slack or SMS.
import type { Actor } from './db/schema.js';

export type Channel = 'api' | 'cli' | 'slack' | 'telegram' | 'sms' | 'email' | 'web' | 'dashboard' | 'system';

export interface Ctx {
  workspaceId: string;
  actor: Actor;
  channel: Channel;
}

export function operatorCtx(workspaceId: string): Ctx {
  return { workspaceId, actor: { type: 'operator', id: null, display: 'leash cli' }, channel: 'cli' };
}
