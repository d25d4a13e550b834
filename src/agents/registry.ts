// Registering agents: create (with the key, shown once), find by id or name, update, delete.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { record } from '../activity/timeline.js';
import { generateKey } from '../auth/keys.js';
import { requireRole, type Ctx } from '../context.js';
import { inTransaction, isUuid, newId, type Db } from '../db/index.js';
import { isStorable } from '../storable-text.js';
import { notify } from '../db/notifier.js';
import type { Updateable } from 'kysely';
import type { AgentRow, AgentsTable } from '../db/schema.js';
import { fail, invalid, notFound } from '../errors.js';
import { targetProblem } from '../net/targets.js';
import { toPage, type Page, type PageParams } from '../pagination.js';
import { drainResetKey } from '../wakeups.js';
import { agentView, type AgentView } from './view.js';

// Names are how chat commands address agents, so they must never be mistaken for an id or for
// the `me` route.
export const agentName = z
  .string()
  .regex(/^[a-z0-9-]{1,64}$/, 'must be 1-64 characters of a-z, 0-9 and -')
  .refine((n) => n !== 'me' && !isUuid(n), 'is reserved (it reads as an id or as "me")');

export const agentFields = {
  display_name: z.string().trim().min(1).max(200).nullable().optional(),
  delivery_url: z.string().max(2048).nullable().optional(),
};

export interface CreateAgentInput {
  name: string;
  display_name?: string | null;
  delivery_url?: string | null;
}

export interface CreatedAgent {
  agent: AgentView;
  api_key: string;
  /** Present when a delivery_url was given: the secret deliveries are signed with, shown once. */
  delivery_secret?: string;
}

export function newDeliverySecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

async function checkDeliveryUrl(url: string | null | undefined, allowPrivate: boolean): Promise<void> {
  if (url == null) return;
  const problem = await targetProblem(url, allowPrivate);
  if (problem) invalid([{ field: 'delivery_url', message: problem }]);
}

function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === constraint;
}

export async function createAgent(
  db: Db,
  ctx: Ctx,
  input: CreateAgentInput,
  opts: { allowPrivateUrls: boolean },
): Promise<CreatedAgent> {
  requireRole(ctx, 'owner');
  const name = agentName.safeParse(input.name);
  if (!name.success) invalid([{ field: 'name', message: name.error.issues[0]!.message }]);
  await checkDeliveryUrl(input.delivery_url, opts.allowPrivateUrls);
  const key = generateKey('agent');
  const deliverySecret = input.delivery_url ? newDeliverySecret() : undefined;
  try {
    return await inTransaction(db, async (tx) => {
      const row = await tx
        .insertInto('agents')
        .values({
          id: newId(),
          workspace_id: ctx.workspaceId,
          name: name.data,
          display_name: input.display_name ?? null,
          delivery_url: input.delivery_url ?? null,
          delivery_secret: deliverySecret ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await tx
        .insertInto('api_keys')
        .values({
          id: newId(),
          workspace_id: ctx.workspaceId,
          prefix: key.prefix,
          key_hash: key.hash,
          agent_id: row.id,
        })
        .execute();
      await record(tx, ctx, { action: 'agent.created', agentId: row.id, details: { name: row.name } });
      return {
        agent: agentView(row),
        api_key: key.key,
        ...(deliverySecret ? { delivery_secret: deliverySecret } : {}),
      };
    });
  } catch (err) {
    if (isUniqueViolation(err, 'agents_name_uq'))
      fail('name_taken', `An agent named ${name.data} already exists in this workspace`);
    throw err;
  }
}

/** Finds a live agent of the workspace by id or by name; anything else (another workspace's
 *  agent included) is 404. `forUpdate` serializes state changes (and waits out a stream writing
 *  messages out, which holds the row FOR KEY SHARE); `forNoKeyUpdate` serializes senders to one
 *  inbox without waiting for readers. */
export async function findAgent(
  db: Db,
  workspaceId: string,
  ref: string,
  opts: { forUpdate?: boolean; forNoKeyUpdate?: boolean } = {},
): Promise<AgentRow> {
  // A name no agent could have (NUL, a broken character) names no agent, on every surface.
  if (!isStorable(ref)) notFound(`Agent ${JSON.stringify(ref).slice(1, -1)}`);
  let q = db.selectFrom('agents').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null);
  q = isUuid(ref) ? q.where('id', '=', ref) : q.where('name', '=', ref);
  if (opts.forUpdate) q = q.forUpdate();
  else if (opts.forNoKeyUpdate) q = q.forNoKeyUpdate();
  const row = await q.executeTakeFirst();
  if (!row) notFound(`Agent ${ref}`);
  return row;
}

/** The workspace's live agents by name, at most `limit` (the dashboard's list). */
export async function agentsByName(db: Db, workspaceId: string, limit: number): Promise<AgentRow[]> {
  return db
    .selectFrom('agents')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('name')
    .limit(limit)
    .execute();
}

/** Names by id, for showing who asked (approval lists and messages): one query. */
export async function agentNames(db: Db, ids: (string | null)[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((i): i is string => !!i))];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('agents').select(['id', 'name']).where('id', 'in', wanted).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function listAgents(db: Db, workspaceId: string, page: PageParams): Promise<Page<AgentView>> {
  let q = db.selectFrom('agents').selectAll().where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null);
  if (page.cursor) q = q.where('id', '>', page.cursor);
  const rows = await q
    .orderBy('id', 'asc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, agentView);
}

export interface UpdateAgentInput {
  name?: string;
  display_name?: string | null;
  delivery_url?: string | null;
}

export async function updateAgent(
  db: Db,
  ctx: Ctx,
  ref: string,
  input: UpdateAgentInput,
  opts: { allowPrivateUrls: boolean },
): Promise<AgentView & { delivery_secret?: string }> {
  requireRole(ctx, 'owner');
  if (input.name !== undefined) {
    const name = agentName.safeParse(input.name);
    if (!name.success) invalid([{ field: 'name', message: name.error.issues[0]!.message }]);
  }
  await checkDeliveryUrl(input.delivery_url, opts.allowPrivateUrls);
  try {
    return await inTransaction(db, async (tx) => {
      const before = await findAgent(tx, ctx.workspaceId, ref, { forUpdate: true });
      const changes: Updateable<AgentsTable> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.display_name !== undefined) changes.display_name = input.display_name;
      let secret: string | undefined;
      if (input.delivery_url !== undefined) {
        changes.delivery_url = input.delivery_url;
        // A new target gets a new secret, returned once (contract §3.4); unsetting drops it.
        secret = input.delivery_url ? newDeliverySecret() : undefined;
        changes.delivery_secret = secret ?? null;
        // A new target starts afresh: no backoff left from the old one, and the drain starts now.
        Object.assign(changes, { drain_failures: 0, drain_retry_at: null, drain_error: null });
      }
      const changed = Object.keys(changes).filter((k) => k !== 'delivery_secret' && !k.startsWith('drain_'));
      if (changed.length === 0) return agentView(before);
      const row = await tx
        .updateTable('agents')
        .set({ ...changes, updated_at: new Date() })
        .where('id', '=', before.id)
        .returningAll()
        .executeTakeFirstOrThrow();
      await record(tx, ctx, { action: 'agent.updated', agentId: row.id, details: { fields: changed } });
      if (input.delivery_url) await notify(tx, drainResetKey(row.id));
      return { ...agentView(row), ...(secret ? { delivery_secret: secret } : {}) };
    });
  } catch (err) {
    if (isUniqueViolation(err, 'agents_name_uq'))
      fail('name_taken', `An agent named ${input.name} already exists in this workspace`);
    throw err;
  }
}
