// The agents list and an agent's page, and the forms that pause, start and stop an agent.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { recentActivity } from '../activity/timeline.js';
import { pauseAgent, startAgent, stopAgent, unpauseAgent } from '../agents/control.js';
import { agentsByName, findAgent } from '../agents/registry.js';
import { agentView } from '../agents/view.js';
import { scopeOf } from '../context.js';
import type { Deps } from '../deps.js';
import { LeashError } from '../errors.js';
import { recentSessions } from '../sessions/sessions.js';
import { act, frame, idParam, view, type Body } from './member-routes.js';
import { dashboardCtx } from './sign-in.js';
import { agentPage, agentsPage } from './views.js';

export function registerAgentPages(app: FastifyInstance, { db, config }: Deps) {
  view(app, db, '/', async (member, req, reply) => {
    const rows = await agentsByName(db, member.workspace_id, 500);
    return agentsPage(frame(config.secret, reply, member, req), rows.map(agentView));
  });
  view(app, db, '/agents/:id', async (member, req, reply) => {
    const row = await findAgent(db, member.workspace_id, idParam(req));
    const sessions = await recentSessions(db, scopeOf(dashboardCtx(member)), row.id, 20);
    const activity = await recentActivity(db, member.workspace_id, row.id, 50);
    return agentPage(frame(config.secret, reply, member, req, 'agent'), agentView(row), sessions, activity);
  });
}

/** Back to the agent's page when the form was there (a fixed path, never a URL from the form). */
const agentTo = (req: FastifyRequest) =>
  (req.body as Body | undefined)?.back === 'agent' ? `/agents/${encodeURIComponent(idParam(req))}` : '/';

export function registerAgentActions(app: FastifyInstance, deps: Deps) {
  const { db } = deps;
  act(app, deps, '/agents/:id/pause', agentTo, async (m, req, b) => {
    if (b.mode !== 'send' && b.mode !== 'full') throw new LeashError('invalid_request', 'mode: must be send or full');
    const a = await pauseAgent(db, dashboardCtx(m), idParam(req), {
      mode: b.mode,
      reason: b.reason?.trim().slice(0, 500) || null,
    });
    return `Paused ${a.name} (${a.pause?.mode}).`;
  });
  act(
    app,
    deps,
    '/agents/:id/unpause',
    agentTo,
    async (m, req) => `Unpaused ${(await unpauseAgent(db, dashboardCtx(m), idParam(req))).name}.`,
  );
  act(
    app,
    deps,
    '/agents/:id/start',
    agentTo,
    async (m, req) => `Started ${(await startAgent(db, dashboardCtx(m), idParam(req))).name}.`,
  );
  act(app, deps, '/agents/:id/stop', agentTo, async (m, req, b) => {
    // A graceful stop from the dashboard waits a short while; past that the agent stays stopping
    // and the page offers Force stop.
    const graceful = b.force !== '1';
    const a = await stopAgent(
      db,
      deps.notifier,
      dashboardCtx(m),
      idParam(req),
      { graceful, timeout: 10_000 },
      deps.approvals,
    );
    return `Stopped ${a.name}${graceful ? '' : ' (forced)'}.`;
  });
}
