// A workspace is a tenant. It is born with its first owner (leash init), whose key is shown once.
import { z } from 'zod';
import { operatorCtx } from '../context.js';
import { inTransaction, newId, type Db } from '../db/index.js';
import { invalid } from '../errors.js';
import { addMember } from '../members/members.js';

const input = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  ownerEmail: z.email('must be an email address'),
});

export interface InitResult {
  workspace_id: string;
  member_id: string;
  api_key: string;
}

export async function createWorkspace(db: Db, raw: { name: string; ownerEmail: string }): Promise<InitResult> {
  const parsed = input.safeParse(raw);
  if (!parsed.success) {
    invalid(
      parsed.error.issues.map((i) => ({
        field: i.path[0] === 'ownerEmail' ? 'owner-email' : 'workspace',
        message: i.message,
      })),
    );
  }
  return inTransaction(db, async (tx) => {
    const id = newId();
    await tx.insertInto('workspaces').values({ id, name: parsed.data.name }).execute();
    const { member, api_key } = await addMember(tx, operatorCtx(id), { email: parsed.data.ownerEmail, role: 'owner' });
    return { workspace_id: id, member_id: member.id, api_key };
  });
}

/** How a person names a workspace in a chat command (`/pause acme/bob`): its name in lowercase
 *  ASCII, accents dropped, every run of other characters one `-`. Empty for a name with no letter
 *  or digit (such a workspace is named by its id). */
export function workspaceHandle(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** A workspace and its first owner (who "hired" its agents, for the hired-agent compatibility API). */
export async function workspaceWithFirstOwner(
  db: Db,
  workspaceId: string,
): Promise<{ id: string; name: string; created_at: Date; owner_id: string | null }> {
  const row = await db
    .selectFrom('workspaces as w')
    .select(['w.id', 'w.name', 'w.created_at'])
    .select((eb) =>
      eb
        .selectFrom('members as m')
        .select('m.id')
        .whereRef('m.workspace_id', '=', 'w.id')
        .where('m.role', '=', 'owner')
        .orderBy('m.created_at')
        .limit(1)
        .as('owner_id'),
    )
    .where('w.id', '=', workspaceId)
    .executeTakeFirstOrThrow();
  return row;
}
