// Who is at the dashboard: a member signed in with their API key or an emailed one-time link.
// The browser holds a random session token in an httpOnly cookie; Postgres holds its hash.
import { createHash, randomBytes } from 'node:crypto';
import { authenticate } from '../auth/principal.js';
import type { Ctx } from '../context.js';
import type { Db } from '../db/index.js';
import type { Member } from '../db/schema.js';
import { memberCtx } from '../members/acting.js';
import { isStorable } from '../storable-text.js';

export const SESSION_COOKIE = 'leash_session';
export const SESSION_MS = 12 * 3_600_000;
const LINK_MS = 15 * 60_000;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const newToken = () => randomBytes(32).toString('base64url');

async function startSession(db: Db, memberId: string): Promise<string> {
  const token = newToken();
  await db
    .insertInto('dashboard_sessions')
    .values({ token_hash: hash(token), member_id: memberId, expires_at: new Date(Date.now() + SESSION_MS) })
    .execute();
  return token;
}

/** A member API key (never an agent's) opens a session. */
export async function signInWithKey(db: Db, key: string): Promise<string | undefined> {
  const p = await authenticate(db, key.trim());
  return p?.kind === 'member' ? startSession(db, p.member.id) : undefined;
}

/** One link per member with this email (an address may be a member of several workspaces). */
export async function createLoginLinks(db: Db, email: string): Promise<{ member: Member; token: string }[]> {
  // No member's address holds a NUL: nobody to send to.
  if (!isStorable(email)) return [];
  const members = await db
    .selectFrom('members')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
    .execute();
  const out: { member: Member; token: string }[] = [];
  for (const member of members) {
    // At most one link a minute per member: the form cannot be used to flood an inbox.
    const recent = await db
      .selectFrom('login_links')
      .select('token_hash')
      .where('member_id', '=', member.id)
      .where('expires_at', '>', new Date(Date.now() + LINK_MS - 60_000))
      .executeTakeFirst();
    if (recent) continue;
    const token = newToken();
    await db
      .insertInto('login_links')
      .values({ token_hash: hash(token), member_id: member.id, expires_at: new Date(Date.now() + LINK_MS) })
      .execute();
    out.push({ member, token });
  }
  return out;
}

/** Spends a login link (once, before it expires) and opens a session. */
export async function signInWithLink(db: Db, token: string): Promise<string | undefined> {
  const used = await db
    .updateTable('login_links')
    .set({ used_at: new Date() })
    .where('token_hash', '=', hash(token))
    .where('used_at', 'is', null)
    .where('expires_at', '>', new Date())
    .returning('member_id')
    .executeTakeFirst();
  return used ? startSession(db, used.member_id) : undefined;
}

export async function memberOfSession(db: Db, token: string | undefined): Promise<Member | undefined> {
  if (!token) return undefined;
  return db
    .selectFrom('dashboard_sessions as s')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .selectAll('m')
    .where('s.token_hash', '=', hash(token))
    .where('s.expires_at', '>', new Date())
    .executeTakeFirst();
}

export async function signOut(db: Db, token: string | undefined): Promise<void> {
  if (token) await db.deleteFrom('dashboard_sessions').where('token_hash', '=', hash(token)).execute();
}

export function dashboardCtx(m: Member): Ctx {
  return memberCtx(m, 'dashboard');
}
