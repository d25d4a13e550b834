// Resolves a presented API key to the member or agent it acts as.
import type { Channel, Ctx } from '../context.js';
export { hasRole } from '../context.js';
import type { Db } from '../db/index.js';
import type { AgentRow, Member } from '../db/schema.js';
import { keyMatches, keyPrefix } from './keys.js';

export type Principal =
  | { kind: 'member'; workspaceId: string; keyId: string; member: Member }
  | { kind: 'agent'; workspaceId: string; keyId: string; agent: AgentRow };

/** One query: the key and the member or agent it acts as (the key's kind is in its prefix). */
export async function authenticate(db: Db, key: string): Promise<Principal | undefined> {
  const prefix = keyPrefix(key);
  if (!prefix) return undefined;
  if (prefix.startsWith('lsh_m_')) {
    const row = await db
      .selectFrom('api_keys as k')
      .innerJoin('members as m', 'm.id', 'k.member_id')
      .selectAll('m')
      .select(['k.id as key_id', 'k.key_hash'])
      .where('k.prefix', '=', prefix)
      .where('k.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || !keyMatches(key, row.key_hash)) return undefined;
    const { key_id, key_hash: _, ...member } = row;
    return { kind: 'member', workspaceId: member.workspace_id, keyId: key_id, member };
  }
  const row = await db
    .selectFrom('api_keys as k')
    .innerJoin('agents as a', 'a.id', 'k.agent_id')
    .selectAll('a')
    .select(['k.id as key_id', 'k.key_hash'])
    .where('k.prefix', '=', prefix)
    .where('k.revoked_at', 'is', null)
    .where('a.deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row || !keyMatches(key, row.key_hash)) return undefined;
  const { key_id, key_hash: _, ...agent } = row;
  return { kind: 'agent', workspaceId: agent.workspace_id, keyId: key_id, agent };
}

export function ctxFor(principal: Principal, channel: Channel): Ctx {
  if (principal.kind === 'member') {
    const m = principal.member;
    return { workspaceId: principal.workspaceId, channel, role: m.role, actor: { type: 'member', id: m.id, display: m.display_name ?? m.email } };
  }
  const a = principal.agent;
  return { workspaceId: principal.workspaceId, channel, actor: { type: 'agent', id: a.id, display: a.name } };
}
