// Who is acting on a chat surface: the member a verified vendor identity is linked to. An unlinked
// identity gets a refusal that says how to link it; nothing else is read or changed for it.
import type { Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { Member } from '../db/schema.js';

export type Acting = { member: Member; ctx: Ctx } | { refusal: string };

/** `who`: "Your Slack account", "This phone number", … */
function acting(rows: Member[], channel: Ctx['channel'], who: string): Acting {
  if (rows.length === 0) return { refusal: `${who} is not linked to a Leash member, so nothing was changed. ${LINK_HELP[channel] ?? ''}`.trim() };
  if (rows.length > 1) return { refusal: `${who} is linked to members of ${rows.length} Leash workspaces; unlink it from all but one.` };
  const m = rows[0]!;
  return { member: m, ctx: { workspaceId: m.workspace_id, channel, role: m.role, actor: { type: 'member', id: m.id, display: m.display_name ?? m.email } } };
}

const LINK_HELP: Partial<Record<Ctx['channel'], string>> = {
  slack: 'To link it: get a code with POST /v1/members/me/link-codes, then send /leash link CODE here (or ask an owner to add your Slack IDs to your member).',
  telegram: 'To link it: get a code with POST /v1/members/me/link-codes, then send /link CODE here (or ask an owner to add your Telegram user ID to your member).',
  sms: 'An owner can add this number to your member (PATCH /v1/members/{id} with phone).',
};

type IdentityColumn = 'slack_team_id' | 'slack_user_id' | 'telegram_user_id' | 'phone';

/** The members linked to this identity (in `workspaceId`, the workspace of the thing acted on,
 *  such as an approval, when it is known). */
async function linked(db: Db, identity: Partial<Record<IdentityColumn, string>>, workspaceId: string | undefined, channel: Ctx['channel'], who: string): Promise<Acting> {
  let q = db.selectFrom('members').selectAll();
  for (const [column, value] of Object.entries(identity)) q = q.where(column as IdentityColumn, '=', value);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  return acting(await q.limit(2).execute(), channel, who);
}

export const memberBySlack = (db: Db, teamId: string, userId: string, workspaceId?: string) =>
  linked(db, { slack_team_id: teamId, slack_user_id: userId }, workspaceId, 'slack', 'Your Slack account');

export const memberByTelegram = (db: Db, userId: string, workspaceId?: string) => linked(db, { telegram_user_id: userId }, workspaceId, 'telegram', 'Your Telegram account');

export const memberByPhone = (db: Db, phone: string, workspaceId?: string) => linked(db, { phone }, workspaceId, 'sms', 'This phone number');
