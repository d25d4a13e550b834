// Who is acting, for which workspace, through which surface. Every core action takes one; adapters
// build it after authenticating, and the core decides what that actor may do. So HTTP, Slack,
// Telegram and SMS get the same rules without re-implementing them.
import type { Actor, Role } from './db/schema.js';
import { fail } from './errors.js';

/** The surface an action came through: a built-in one, or a channel's name (src/channels/list.ts). */
export type Channel = 'api' | 'cli' | 'dashboard' | 'system' | 'web' | (string & {});

export interface Ctx {
  workspaceId: string;
  actor: Actor;
  channel: Channel;
  /** The member's role, when the actor is a member. */
  role?: Role;
  /** A compatibility route the action came through (src/compat/): on the timeline as `details.via`. */
  via?: string;
}

export function operatorCtx(workspaceId: string): Ctx {
  return { workspaceId, actor: { type: 'operator', id: null, display: 'leash cli' }, channel: 'cli' };
}

const RANK: Record<Role, number> = { viewer: 0, approver: 1, owner: 2 };

export function hasRole(member: { role: Role }, atLeast: Role): boolean {
  return RANK[member.role] >= RANK[atLeast];
}

/** Members need at least `atLeast`; the operator (CLI) and Leash itself may do anything; agents
 *  and link holders may not, unless the action allows them separately. */
export function requireRole(ctx: Ctx, atLeast: Role): void {
  const { type } = ctx.actor;
  if (type === 'operator' || type === 'system') return;
  if (type !== 'member') fail('forbidden', `This needs a member with the ${atLeast} role`);
  if (!ctx.role || !hasRole({ role: ctx.role }, atLeast))
    fail('forbidden', `This needs the ${atLeast} role; you are ${ctx.role ?? 'unknown'}`);
}

/** What a caller may see of agent-owned things (approvals, sessions): a member the workspace's,
 *  an agent only its own. */
export interface Scope {
  workspaceId: string;
  agentId?: string;
}

export function scopeOf(ctx: Ctx): Scope {
  return { workspaceId: ctx.workspaceId, agentId: actingAgent(ctx) };
}

/** The agent acting, if the actor is an agent. */
export function actingAgent(ctx: Ctx): string | undefined {
  return ctx.actor.type === 'agent' ? (ctx.actor.id ?? undefined) : undefined;
}
