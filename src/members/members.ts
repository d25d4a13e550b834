// Members and their identities. Chat adapters find the acting member through these identities,
// so each one belongs to at most one member per workspace (409 identity_taken). What an owner sets
// here is unconfirmed until the identity's holder confirms it (./link-codes.ts, ./identities.ts).
import { sql, type RawBuilder } from 'kysely';
import { z } from 'zod';
import { record } from '../activity/timeline.js';
import { generateKey } from '../auth/keys.js';
import { requireRole, type Ctx } from '../context.js';
import { inTransaction, isUuid, newId, type Db } from '../db/index.js';
import type { Member, MemberUpdate, Role } from '../db/schema.js';
import { fail, notFound } from '../errors.js';
import { toPage, type Page, type PageParams } from '../pagination.js';

export const role = z.enum(['owner', 'approver', 'viewer']);
export const identityFields = {
  display_name: z.string().trim().min(1).max(200).nullable().optional(),
  phone: z
    .string()
    .regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +15551234567')
    .nullable()
    .optional(),
  slack: z
    .object({
      team_id: z.string().regex(/^T[A-Z0-9]{2,}$/, 'must be a Slack team ID such as T0123ABCD'),
      user_id: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user ID such as U0123ABCD'),
    })
    .strict()
    .nullable()
    .optional(),
  telegram: z
    .object({
      user_id: z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d{0,19}$/)], {
        message: 'must be a Telegram numeric user ID',
      }),
    })
    .strict()
    .nullable()
    .optional(),
};

export interface MemberInput {
  email?: string;
  role?: Role;
  display_name?: string | null;
  phone?: string | null;
  slack?: { team_id: string; user_id: string } | null;
  telegram?: { user_id: number | string } | null;
}

export function memberView(row: Member) {
  return {
    id: row.id,
    email: row.email,
    role: row.role,
    display_name: row.display_name,
    phone: row.phone,
    phone_confirmed: row.phone !== null && row.phone_confirmed_at !== null,
    slack:
      row.slack_team_id && row.slack_user_id
        ? { team_id: row.slack_team_id, user_id: row.slack_user_id, confirmed: row.slack_confirmed_at !== null }
        : null,
    telegram: row.telegram_user_id
      ? { user_id: row.telegram_user_id, confirmed: row.telegram_confirmed_at !== null }
      : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export type MemberView = ReturnType<typeof memberView>;

const IDENTITY_CONSTRAINTS: Record<string, string> = {
  members_email_uq: 'That email',
  members_phone_uq: 'That phone number',
  members_slack_uq: 'That Slack user',
  members_telegram_uq: 'That Telegram user',
};

export async function guardIdentities<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    const what = e.code === '23505' && e.constraint ? IDENTITY_CONSTRAINTS[e.constraint] : undefined;
    if (what) fail('identity_taken', `${what} already belongs to another member of this workspace`);
    throw err;
  }
}

function columns(input: MemberInput): MemberUpdate {
  const c: MemberUpdate = {};
  if (input.email !== undefined) c.email = input.email;
  if (input.role !== undefined) c.role = input.role;
  if (input.display_name !== undefined) c.display_name = input.display_name;
  if (input.phone !== undefined) c.phone = input.phone;
  if (input.slack !== undefined) {
    c.slack_team_id = input.slack?.team_id ?? null;
    c.slack_user_id = input.slack?.user_id ?? null;
  }
  if (input.telegram !== undefined) c.telegram_user_id = input.telegram ? String(input.telegram.user_id) : null;
  return c;
}

type ConfirmedAt = 'phone_confirmed_at' | 'slack_confirmed_at' | 'telegram_confirmed_at';

/**
 * What an owner's update does to confirmations. An identity an owner sets is a claim until its
 * holder confirms it (link codes), so one that changes loses its confirmation and one set to what
 * the member holds keeps it. Decided in the UPDATE itself, on the row it changes, so that a link
 * confirming another value at the same moment can never lend its confirmation to this one.
 */
function confirmations(changes: MemberUpdate): Partial<Record<ConfirmedAt, RawBuilder<Date | null>>> {
  const keepIf = (same: RawBuilder<unknown>, column: ConfirmedAt) =>
    sql<Date | null>`case when ${same} then ${sql.ref(column)} end`;
  const c: Partial<Record<ConfirmedAt, RawBuilder<Date | null>>> = {};
  if (changes.phone !== undefined)
    c.phone_confirmed_at = keepIf(sql`phone is not distinct from ${changes.phone}`, 'phone_confirmed_at');
  if (changes.slack_user_id !== undefined) {
    const same = sql`slack_team_id is not distinct from ${changes.slack_team_id} and slack_user_id is not distinct from ${changes.slack_user_id}`;
    c.slack_confirmed_at = keepIf(same, 'slack_confirmed_at');
  }
  if (changes.telegram_user_id !== undefined)
    c.telegram_confirmed_at = keepIf(
      sql`telegram_user_id is not distinct from ${changes.telegram_user_id}`,
      'telegram_confirmed_at',
    );
  return c;
}

/** The identities a write took a confirmation from (for the timeline). */
function unconfirmedBy(before: Member, after: Member): string[] {
  const lost = [
    ['phone', before.phone_confirmed_at, after.phone_confirmed_at],
    ['slack', before.slack_confirmed_at, after.slack_confirmed_at],
    ['telegram', before.telegram_confirmed_at, after.telegram_confirmed_at],
  ] as const;
  return lost.filter(([, was, is]) => was !== null && is === null).map(([kind]) => kind);
}

export async function addMember(
  db: Db,
  ctx: Ctx,
  input: MemberInput & { email: string; role: Role },
): Promise<{ member: MemberView; api_key: string }> {
  requireRole(ctx, 'owner');
  const key = generateKey('member');
  return guardIdentities(() =>
    inTransaction(db, async (tx) => {
      const row = await tx
        .insertInto('members')
        .values({ ...columns(input), id: newId(), workspace_id: ctx.workspaceId, email: input.email, role: input.role })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('api_keys')
        .values({
          id: newId(),
          workspace_id: ctx.workspaceId,
          prefix: key.prefix,
          key_hash: key.hash,
          member_id: row.id,
        })
        .execute();
      await record(tx, ctx, {
        action: 'member.added',
        details: { member_id: row.id, email: row.email, role: row.role },
      });
      return { member: memberView(row), api_key: key.key };
    }),
  );
}

export async function getMember(db: Db, workspaceId: string, id: string): Promise<Member> {
  if (!isUuid(id)) notFound(`Member ${id}`);
  const row = await db
    .selectFrom('members')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) notFound(`Member ${id}`);
  return row;
}

/** The workspace's members by email, at most `limit` (the dashboard's list). */
export async function membersByEmail(db: Db, workspaceId: string, limit: number): Promise<Member[]> {
  return db
    .selectFrom('members')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .orderBy('email')
    .limit(limit)
    .execute();
}

export async function listMembers(db: Db, workspaceId: string, page: PageParams): Promise<Page<MemberView>> {
  let q = db.selectFrom('members').selectAll().where('workspace_id', '=', workspaceId);
  if (page.cursor) q = q.where('id', '>', page.cursor);
  const rows = await q
    .orderBy('id', 'asc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, memberView);
}

/** A workspace always keeps one owner: without one, nobody could ever act on its agents again. */
async function assertOtherOwner(db: Db, workspaceId: string, memberId: string): Promise<void> {
  // Lock every owner row in one order, so two owners demoting each other serialize instead of deadlocking.
  const owners = await db
    .selectFrom('members')
    .select('id')
    .where('workspace_id', '=', workspaceId)
    .where('role', '=', 'owner')
    .orderBy('id')
    .forUpdate()
    .execute();
  if (!owners.some((o) => o.id !== memberId)) {
    fail('last_owner', 'This is the workspace’s last owner; make another member owner first');
  }
}

export async function updateMember(db: Db, ctx: Ctx, id: string, input: MemberInput): Promise<MemberView> {
  requireRole(ctx, 'owner');
  return guardIdentities(() =>
    inTransaction(db, async (tx) => {
      const before = await getMember(tx, ctx.workspaceId, id);
      const changes = columns(input);
      if (Object.keys(changes).length === 0) return memberView(before);
      if (before.role === 'owner' && input.role !== undefined && input.role !== 'owner') {
        await assertOtherOwner(tx, ctx.workspaceId, id);
      }
      const row = await tx
        .updateTable('members')
        .set({ ...changes, ...confirmations(changes), updated_at: new Date() })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const unconfirmed = unconfirmedBy(before, row);
      await record(tx, ctx, {
        action: 'member.updated',
        details: { member_id: row.id, fields: Object.keys(input), ...(unconfirmed.length ? { unconfirmed } : {}) },
      });
      return memberView(row);
    }),
  );
}

export async function removeMember(db: Db, ctx: Ctx, id: string): Promise<void> {
  requireRole(ctx, 'owner');
  await inTransaction(db, async (tx) => {
    const member = await getMember(tx, ctx.workspaceId, id);
    if (member.role === 'owner') await assertOtherOwner(tx, ctx.workspaceId, id);
    await tx.deleteFrom('members').where('id', '=', member.id).execute();
    await record(tx, ctx, { action: 'member.removed', details: { member_id: member.id, email: member.email } });
  });
}
