// Self-service linking, and the only way an identity is confirmed: a member asks for a one-time
// code (API or dashboard) and sends it from the identity itself (`/leash link CODE` in Slack,
// `/link CODE` in Telegram, `LINK CODE` by SMS). The vendor vouches for the identity (a signed
// request) and the code for the member, so the identity is set on that member and confirmed.
// The code is short-lived, single-use and stored only as a hash.
import { createHash, randomInt } from 'node:crypto';
import { record } from '../activity/timeline.js';
import type { Ctx } from '../context.js';
import { inTransaction, type Db } from '../db/index.js';
import { fail } from '../errors.js';
import { memberCtx } from './acting.js';
import { confirmedColumns, holds, keepCurrentWorkspace, surfaceOf, type Identity } from './identities.js';
import { guardIdentities, memberView, type MemberView } from './members.js';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_LENGTH = 8;
const VALID_MS = 10 * 60_000;

const hashOf = (code: string) => createHash('sha256').update(code.trim().toUpperCase()).digest('hex');

/** A code for the calling member, valid for 10 minutes. */
export async function createLinkCode(db: Db, ctx: Ctx): Promise<{ code: string; expires_at: string }> {
  if (ctx.actor.type !== 'member' || !ctx.actor.id) fail('forbidden', 'Link codes are for members (use a member key)');
  const code = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  const expires = new Date(Date.now() + VALID_MS);
  await db
    .insertInto('link_codes')
    .values({ code_hash: hashOf(code), workspace_id: ctx.workspaceId, member_id: ctx.actor.id, expires_at: expires })
    .execute();
  return { code, expires_at: expires.toISOString() };
}

export interface Linked {
  member: MemberView;
  workspace: { id: string; name: string };
  /** `confirmed`: the member held the identity already (an owner set it); `linked`: it is new to them. */
  how: 'linked' | 'confirmed';
}

/** Sets the identity on the code's member, confirmed, and spends the code, together (a failed
 *  link leaves it unspent). */
export async function redeemLinkCode(db: Db, code: string, identity: Identity): Promise<Linked> {
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
      if (!spent)
        fail('not_found', 'That code is not valid: it may be mistyped, used already, or older than 10 minutes');
      const before = await tx
        .selectFrom('members')
        .selectAll()
        .where('id', '=', spent.member_id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      await keepCurrentWorkspace(tx, identity, before.workspace_id);
      const now = new Date();
      const row = await tx
        .updateTable('members')
        .set({ ...confirmedColumns(identity, now), updated_at: now })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const how = holds(before, identity) ? 'confirmed' : 'linked';
      const ctx = memberCtx(row, surfaceOf(identity));
      await record(tx, ctx, { action: `member.${how}`, details: { member_id: row.id, identity: identity.kind } });
      const workspace = await tx
        .selectFrom('workspaces')
        .select(['id', 'name'])
        .where('id', '=', row.workspace_id)
        .executeTakeFirstOrThrow();
      return { member: memberView(row), workspace, how };
    }),
  );
}
