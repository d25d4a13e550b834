// The workspace hired-agent API: POST /api/v1/workspaces/agents/{agent_id}/pause (no body) and
// /resume answer the hired-agent object. Its document names no pause mode: this is a full pause
// (the agent sends nothing and its inbound delivery is held: "out of the loop"), and resume is
// Leash's unpause. Fields Leash has no counterpart for are null; docs/compat.md maps each one.
import type { FastifyInstance } from 'fastify';
import { pauseAgent, unpauseAgent } from '../agents/control.js';
import { findAgent } from '../agents/registry.js';
import { ctxFor } from '../auth/principal.js';
import type { AgentRow } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { principalOf } from '../http/auth.js';
import { workspaceWithFirstOwner } from '../workspaces/workspaces.js';
import { answerErrorsAs, type Shape } from './errors.js';

/** FastAPI's error shape, which the document's clients read. */
export const hiredAgentErrors: Shape = (f) => ({ detail: f.code === 'not_found' ? 'Agent not found' : f.message });

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function hiredAgent(agent: AgentRow, status: string, ws: Awaited<ReturnType<typeof workspaceWithFirstOwner>>) {
  return {
    id: agent.id,
    user_id: ws.owner_id,
    agent_type: null,
    display_name: agent.display_name ?? agent.name,
    status,
    tier: null,
    stripe_subscription_id: null,
    config: {},
    hired_at: agent.created_at.toISOString(),
    paused_at: iso(agent.paused_at),
    cancelled_at: iso(agent.stopped_at),
    created_at: agent.created_at.toISOString(),
    updated_at: agent.updated_at.toISOString(),
    persona_name: agent.name,
    workspace: {
      id: ws.id,
      hired_agent_id: agent.id,
      user_id: ws.owner_id,
      name: ws.name,
      status: 'active',
      settings: {},
      metrics_cache: { backlog: Number(agent.inbox_seq) - Number(agent.acked_seq) },
      last_active_at: iso(agent.last_seen_at),
      created_at: ws.created_at.toISOString(),
      updated_at: ws.created_at.toISOString(),
    },
    team_id: null,
    team_type: null,
  };
}

export async function registerHiredAgentCompat(app: FastifyInstance, deps: Deps): Promise<void> {
  answerErrorsAs(app, hiredAgentErrors);
  const verbs = [
    {
      path: 'pause',
      act: (ctx: ReturnType<typeof ctxFor>, id: string) => pauseAgent(deps.db, ctx, id, { mode: 'full' }),
    },
    { path: 'resume', act: (ctx: ReturnType<typeof ctxFor>, id: string) => unpauseAgent(deps.db, ctx, id) },
  ];
  for (const { path, act } of verbs) {
    app.post<{ Params: { agent_id: string } }>(
      `/api/v1/workspaces/agents/:agent_id/${path}`,
      { config: { access: 'owner' }, schema: { hide: true } },
      async (req) => {
        const principal = principalOf(req);
        const ctx = ctxFor(principal, 'api', `compat: POST /api/v1/workspaces/agents/{agent_id}/${path}`);
        const view = await act(ctx, req.params.agent_id);
        const agent = await findAgent(deps.db, principal.workspaceId, view.id);
        return hiredAgent(agent, view.status, await workspaceWithFirstOwner(deps.db, principal.workspaceId));
      },
    );
  }
}
