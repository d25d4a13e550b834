// A member as the one who acts: the actor of a Ctx, and the responder an answer credits. Every
// surface (API, dashboard, Slack, Telegram, SMS, link redemption) names a member the same way, so
// the timeline and an approval's outcome read alike whichever surface the member used.
import type { Channel, Ctx } from '../context.js';
import type { Actor, Member, Responder } from '../db/schema.js';

type Named = Pick<Member, 'id' | 'display_name' | 'email'>;

/** How Leash names a member: the display name they chose, else their email. */
export const memberName = (m: Pick<Member, 'display_name' | 'email'>): string => m.display_name ?? m.email;

export const memberActor = (m: Named): Actor => ({ type: 'member', id: m.id, display: memberName(m) });

/** The Ctx of a member acting in their own workspace, with their role, through `channel`. */
export function memberCtx(m: Named & Pick<Member, 'workspace_id' | 'role'>, channel: Channel): Ctx {
  return { workspaceId: m.workspace_id, channel, role: m.role, actor: memberActor(m) };
}

/** The member credited with an answer given through `channel`. */
export const memberResponder = (m: Named, channel: string): Responder => ({
  channel,
  member_id: m.id,
  display: memberName(m),
});
