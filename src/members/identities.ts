// A person's chat identities: a Slack user, a Telegram user, a phone number. A member holds one
// either as an owner set it (a claim, which never acts) or as its holder confirmed it, by sending a
// link code from that identity itself. Claims are per workspace and confirmations are by the
// holder, so nothing one workspace does can change what an identity does in another.
import type { Db, Tx } from '../db/index.js';
import type { Member, MemberUpdate } from '../db/schema.js';

export type Identity =
  | { kind: 'slack'; teamId: string; userId: string }
  | { kind: 'telegram'; userId: string }
  | { kind: 'phone'; phone: string };

/** How the identity is named where it is one key among others (identity_defaults). */
export function identityKey(id: Identity): string {
  if (id.kind === 'slack') return `slack:${id.teamId}:${id.userId}`;
  if (id.kind === 'telegram') return `telegram:${id.userId}`;
  return `phone:${id.phone}`;
}

/** The chat surface an identity speaks through (and the timeline's channel for what it does). */
export function surfaceOf(id: Identity): Exclude<Identity['kind'], 'phone'> | 'sms' {
  return id.kind === 'phone' ? 'sms' : id.kind;
}

const CONFIRMED_AT = {
  slack: 'slack_confirmed_at',
  telegram: 'telegram_confirmed_at',
  phone: 'phone_confirmed_at',
} as const;

/** The member columns that hold the identity, with its value. */
function holding(id: Identity) {
  if (id.kind === 'slack') return { slack_team_id: id.teamId, slack_user_id: id.userId };
  if (id.kind === 'telegram') return { telegram_user_id: id.userId };
  return { phone: id.phone };
}

/** The identity set on a member and confirmed, as redeeming a link code from it does. */
export function confirmedColumns(id: Identity, at: Date): MemberUpdate {
  return { ...holding(id), [CONFIRMED_AT[id.kind]]: at };
}

/** True when the member already holds this identity (confirmed or not). */
export function holds(member: Member, id: Identity): boolean {
  return Object.entries(holding(id)).every(([column, value]) => member[column as keyof Member] === value);
}

/** A member holding the identity confirmed, with its workspace (the place chat commands act in). */
export type Holder = Member & { workspace_name: string };

/** The members that hold this identity confirmed, one per workspace at most, oldest workspace
 *  first; only in `workspaceId` when given. Claims (unconfirmed) are never counted. */
export async function confirmedHolders(db: Db, id: Identity, workspaceId?: string): Promise<Holder[]> {
  let q = db
    .selectFrom('members as m')
    .innerJoin('workspaces as w', 'w.id', 'm.workspace_id')
    .selectAll('m')
    .select('w.name as workspace_name')
    .where(`m.${CONFIRMED_AT[id.kind]}`, 'is not', null);
  for (const [column, value] of Object.entries(holding(id))) q = q.where(`m.${column as 'phone'}`, '=', value);
  if (workspaceId) q = q.where('m.workspace_id', '=', workspaceId);
  return q.orderBy('w.created_at').orderBy('w.id').execute();
}

/** The workspace this identity's holder chose for commands that name none, if any. */
export async function defaultWorkspace(db: Db, id: Identity): Promise<string | undefined> {
  const row = await db
    .selectFrom('identity_defaults')
    .select('workspace_id')
    .where('identity', '=', identityKey(id))
    .executeTakeFirst();
  return row?.workspace_id;
}

/** Chooses (or, with null, forgets) the default workspace. The caller has checked that the holder
 *  is confirmed there: only the holder, from the identity, chooses. */
export async function chooseDefault(db: Db, id: Identity, workspaceId: string | null): Promise<void> {
  const identity = identityKey(id);
  if (workspaceId === null)
    return void (await db.deleteFrom('identity_defaults').where('identity', '=', identity).execute());
  await db
    .insertInto('identity_defaults')
    .values({ identity, workspace_id: workspaceId })
    .onConflict((oc) => oc.column('identity').doUpdateSet({ workspace_id: workspaceId, updated_at: new Date() }))
    .execute();
}

/** Before an identity is confirmed in another workspace: if it acts in exactly one workspace
 *  until now, that one becomes its default (any default it had was stale: it named a workspace
 *  the identity no longer acts in). So a bare `/pause bob` or `HALT bob` keeps going where it
 *  went, instead of turning ambiguous in an emergency. */
export async function keepCurrentWorkspace(tx: Tx, id: Identity, joining: string): Promise<void> {
  const current = await confirmedHolders(tx, id);
  if (current.length !== 1 || current[0]!.workspace_id === joining) return;
  await chooseDefault(tx, id, current[0]!.workspace_id);
}
