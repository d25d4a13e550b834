// Resolves a presented API key to the member or agent it acts as.
import type { Channel, Ctx } from '../context.js';
export { hasRole } from '../context.js';
import type { Db } from '../db/index.js';
import type { AgentRow, Member } from '../db/schema.js';
import { keyMatches, keyPrefix } from './keys.js';

export type Principal =
  | { kind: 'member'; workspaceId: string; keyId: string; member: Member }
  | { kind: 'agent'; workspaceId: string; keyId: string; agent: AgentRow };

export async function authenticate(db: Db, key: string): Promise<Principal | undefined> {
  const prefix = keyPrefix(key);
  if (!prefix) return undefined;
  const row = await db
    .selectFrom('api_keys')
    .select(['id', 'workspace_id', 'key_hash', 'member_id', 'agent_id'])
    .where('prefix', '=', prefix)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row || !keyMatches(key, row.key_hash)) return undefined;
  if (row.member_id) {
    const member = await db.selectFrom('members').selectAll().where('id', '=', row.member_id).executeTakeFirst();
    return member && { kind: 'member', workspaceId: row.workspace_id, keyId: row.id, member };
  }
  const agent = await db
    .selectFrom('agents')
    .selectAll()
    .where('id', '=', row.agent_id!)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return agent && { kind: 'agent', workspaceId: row.workspace_id, keyId: row.id, agent };
}

export function ctxFor(principal: Principal, channel: Channel): Ctx {
  if (principal.kind === 'member') {
    const m = principal.member;
    return { workspaceId: principal.workspaceId, channel, role: m.role, actor: { type: 'member', id: m.id, display: m.display_name ?? m.email } };
  }
  const a = principal.agent;
  return { workspaceId: principal.workspaceId, channel, actor: { type: 'agent', id: a.id, display: a.name } };
}
