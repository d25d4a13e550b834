// The approvals whose question went (or is going) to a phone by SMS: what a reply from that
// phone may answer. A reply names no workspace; only the number the question was sent to
// counts (contract §3.1), so these reads are scoped by the prompt's recipient.
import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { ApprovalRow } from '../db/schema.js';

/** An approval asked of the phone, with the reply code of its prompt there. */
export type AskedOfPhone = ApprovalRow & { code: string | null };

const askedOf = (db: Db, phone: string) =>
  db
    .selectFrom('prompts as p')
    .innerJoin('approvals as a', 'a.id', 'p.approval_id')
    .selectAll('a')
    .select(sql<string | null>`p.ref->>'code'`.as('code'))
    .where('p.channel', '=', 'sms')
    .where('p.recipient', '=', phone);

/** The ones still pending, oldest first. */
export function pendingAskedOf(db: Db, phone: string): Promise<AskedOfPhone[]> {
  return askedOf(db, phone).where('a.status', '=', 'pending').orderBy('a.created_at').execute();
}

/** The one sent to the phone (with this code) that settled last, in the past week: what a late reply is told. */
export function lastSettledAskedOf(db: Db, phone: string, code?: string): Promise<AskedOfPhone | undefined> {
  let q = askedOf(db, phone).where('a.status', '!=', 'pending');
  if (code) q = q.where(sql<string>`p.ref->>'code'`, '=', code);
  return q
    .where('a.updated_at', '>', new Date(Date.now() - 7 * 86_400_000))
    .orderBy('a.updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}
