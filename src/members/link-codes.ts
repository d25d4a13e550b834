// Self-service linking of a chat identity: a member asks for a one-time code (API or dashboard)
// and sends it from Slack or Telegram (`/leash link CODE`, `/link CODE`). The code is short-lived,
// single-use and stored only as a hash; redeeming it links the identity the chat surface vouches for.
import { createHash, randomInt } from 'node:crypto';
import { record } from '../activity/timeline.js';
import type { Ctx } from '../context.js';
import { inTransaction, type Db } from '../db/index.js';
import { fail } from '../errors.js';
import { guardIdentities, memberView, identityColumns, type MemberView } from './members.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 8;
const VALID_MS = 10 * 60_000;

const hashOf = (code: string) => createHash('sha256').update(code.trim().toUpperCase()).digest('hex');

export type ChatIdentity = { slack: { team_id: string; user_id: string } } | { telegram: { user_id: string } };

/** A code for the calling member, valid for 10 minutes. */
export async function createLinkCode(db: Db, ctx: Ctx): Promise<{ code: string; expires_at: string }> {
  if (ctx.actor.type !== 'member' || !ctx.actor.id) fail('forbidden', 'Link codes are for members (use a member key)');
  const code = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  const expires = new Date(Date.now() + VALID_MS);
  await db.insertInto('link_codes').values({ code_hash: hashOf(code), workspace_id: ctx.workspaceId, member_id: ctx.actor.id, expires_at: expires }).execute();
  return { code, expires_at: expires.toISOString() };
}

/** Links the identity to the code's member and spends the code, together (a failed link leaves it unspent). */
export async function redeemLinkCode(db: Db, code: string, identity: ChatIdentity, channel: Ctx['channel']): Promise<MemberView> {
  return guardIdentities(() =>
    inTransaction(db, async (tx) => {
      const spent = await tx
        .updateTable('link_codes')
        .set({ used_at: new Date() })
        .where('code_hash', '=', hashOf(code))
        .where('used_at', 'is', null)
        .where('expires_at', '>', new Date())
        .returning(['member_id', 'workspace_id'])
        .executeTakeFirst();
      if (!spent) fail('not_found', 'That code is not valid: it may be mistyped, used already, or older than 10 minutes');
      const row = await tx
        .updateTable('members')
        .set({ ...identityColumns(identity), updated_at: new Date() })
        .where('id', '=', spent.member_id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const ctx: Ctx = { workspaceId: row.workspace_id, channel, role: row.role, actor: { type: 'member', id: row.id, display: row.display_name ?? row.email } };
      await record(tx, ctx, { action: 'member.linked', details: { member_id: row.id, identity: Object.keys(identity)[0] } });
      return memberView(row);
    }),
  );
}
