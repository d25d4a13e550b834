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

/** `workspaceId`: the workspace of the thing acted on (an approval), when it is known. */
export async function memberBySlack(db: Db, teamId: string, userId: string, workspaceId?: string): Promise<Acting> {
  let q = db.selectFrom('members').selectAll().where('slack_team_id', '=', teamId).where('slack_user_id', '=', userId);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  const rows = await q.limit(2).execute();
  return acting(rows, 'slack', 'Your Slack account');
}

export async function memberByPhone(db: Db, phone: string, workspaceId?: string): Promise<Acting> {
  let q = db.selectFrom('members').selectAll().where('phone', '=', phone);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  const rows = await q.limit(2).execute();
  return acting(rows, 'sms', 'This phone number');
}

export async function memberByTelegram(db: Db, userId: string, workspaceId?: string): Promise<Acting> {
  let q = db.selectFrom('members').selectAll().where('telegram_user_id', '=', userId);
  if (workspaceId) q = q.where('workspace_id', '=', workspaceId);
  const rows = await q.limit(2).execute();
  return acting(rows, 'telegram', 'Your Telegram account');
}
