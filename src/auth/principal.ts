// Resolves a presented API key to the member or agent it acts as.
import { sql } from 'kysely';
import type { Channel, Ctx } from '../context.js';
export { hasRole } from '../context.js';
import { batchedPerDb, type Db } from '../db/index.js';
import type { AgentRow, Member } from '../db/schema.js';
import { memberActor } from '../members/acting.js';
import { keyMatches, keyPrefix } from './keys.js';

export type Principal =
  | { kind: 'member'; workspaceId: string; keyId: string; member: Member }
  | { kind: 'agent'; workspaceId: string; keyId: string; agent: AgentRow };

type MemberKeyRow = Member & { key_id: string; key_hash: Buffer; prefix: string };
type AgentKeyRow = AgentRow & { key_id: string; key_hash: Buffer; prefix: string };

/** `prefix = $1` for one, so Postgres can keep a generic plan of the prepared statement (an array
 *  parameter of unknown length has it plan every call afresh, which costs more than the lookup:
 *  bench/changes.md). */
const prefixIn = (prefixes: string[]) => (prefixes.length === 1 ? prefixes[0]! : sql<string>`any(${prefixes}::text[])`);

/** Keys in use, with the member or agent each acts as, for a set of prefixes: one query. */
const memberKeys = (db: Db, prefixes: string[]) =>
  db
    .selectFrom('api_keys as k')
    .innerJoin('members as m', 'm.id', 'k.member_id')
    .selectAll('m')
    .select(['k.id as key_id', 'k.key_hash', 'k.prefix'])
    .where('k.prefix', '=', prefixIn(prefixes))
    .where('k.revoked_at', 'is', null)
    .execute() as Promise<MemberKeyRow[]>;

const agentKeys = (db: Db, prefixes: string[]) =>
  db
    .selectFrom('api_keys as k')
    .innerJoin('agents as a', 'a.id', 'k.agent_id')
    .selectAll('a')
    .select(['k.id as key_id', 'k.key_hash', 'k.prefix'])
    .where('k.prefix', '=', prefixIn(prefixes))
    .where('k.revoked_at', 'is', null)
    .where('a.deleted_at', 'is', null)
    .execute() as Promise<AgentKeyRow[]>;

/** Lookups made while one is in flight go together as the next query, so under load every request
 *  still reads its key fresh (a revoked key or a changed role counts at once; nothing is cached)
 *  but many requests share a round trip. A lone lookup goes at once. */
function lookup<R extends { prefix: string }>(query: (db: Db, prefixes: string[]) => Promise<R[]>) {
  return batchedPerDb(async (db: Db, prefixes: string[]) => {
    const rows = new Map((await query(db, [...new Set(prefixes)])).map((r) => [r.prefix, r]));
    return prefixes.map((p) => rows.get(p));
  }, 500);
}
const findMemberKey = lookup(memberKeys);
const findAgentKey = lookup(agentKeys);

/** The key and the member or agent it acts as (the key's kind is in its prefix). */
export async function authenticate(db: Db, key: string): Promise<Principal | undefined> {
  const prefix = keyPrefix(key);
  if (!prefix) return undefined;
  if (prefix.startsWith('lsh_m_')) {
    const row = await findMemberKey(db, prefix);
    if (!row || !keyMatches(key, row.key_hash)) return undefined;
    const { key_id, key_hash: _, prefix: __, ...member } = row;
    return { kind: 'member', workspaceId: member.workspace_id, keyId: key_id, member };
  }
  const row = await findAgentKey(db, prefix);
  if (!row || !keyMatches(key, row.key_hash)) return undefined;
  const { key_id, key_hash: _, prefix: __, ...agent } = row;
  return { kind: 'agent', workspaceId: agent.workspace_id, keyId: key_id, agent };
}

export function ctxFor(principal: Principal, channel: Channel, via?: string): Ctx {
  if (principal.kind === 'member') {
    const m = principal.member;
    return {
      workspaceId: principal.workspaceId,
      channel,
      role: m.role,
      actor: memberActor(m),
      ...(via ? { via } : {}),
    };
  }
  const a = principal.agent;
  return { workspaceId: principal.workspaceId, channel, actor: { type: 'agent', id: a.id, display: a.name } };
}
