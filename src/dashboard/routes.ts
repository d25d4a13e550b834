// The dashboard adapter: sign-in, then pages over the same core actions as the API (the member's
// role decides, in the core). Forms post back with a CSRF token and redirect (post/redirect/get);
// a refusal is shown on the page it came from. /dashboard.js only refreshes the live part.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { pauseAgent, startAgent, stopAgent, unpauseAgent } from '../agents/control.js';
import { agentNames, agentsByName, findAgent } from '../agents/registry.js';
import { recentActivity } from '../activity/timeline.js';
import { agentView } from '../agents/view.js';
import { withDelivery } from '../approvals/approvals.js';
import { decideApproval } from '../approvals/decide.js';
import { pendingApprovals } from '../approvals/pending.js';
import { scopeOf } from '../context.js';
import type { Member } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { LeashError } from '../errors.js';
import { memberResponder } from '../members/acting.js';
import { membersByEmail } from '../members/members.js';
import { agentOfSession, cancelSession, pauseSession, recentSessions, resumeSession } from '../sessions/sessions.js';
import { endpointsWithFailures, redeliver } from '../webhooks/endpoints.js';
import { act, frame, idParam, view, type Body } from './member-routes.js';
import { dashboardCtx } from './sign-in.js';
import { registerSignIn } from './sign-in-routes.js';
import { agentPage, agentsPage, approvalsPage, membersPage, webhooksPage } from './views.js';

const LIVE_JS = `// Refreshes the live part of a dashboard page every 3 s, unless you are typing in it.
const live = document.getElementById('live');
if (live) setInterval(async () => {
  if (document.hidden || (document.activeElement && live.contains(document.activeElement) && document.activeElement.tagName === 'INPUT')) return;
  const res = await fetch(location.pathname, { credentials: 'same-origin' });
  if (!res.ok) return;
  const next = new DOMParser().parseFromString(await res.text(), 'text/html').getElementById('live');
  if (next && next.innerHTML !== live.innerHTML) live.innerHTML = next.innerHTML;
}, 3000);
`;

export function registerDashboard(app: FastifyInstance, deps: Deps) {
  const { db, config } = deps;

  app.get('/dashboard.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(LIVE_JS),
  );
  registerSignIn(app, deps);

  // Pages.
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
  view(app, db, '/approvals', async (member, req, reply) => {
    const { rows } = await pendingApprovals(db, scopeOf(dashboardCtx(member)), { limit: 100 });
    return approvalsPage(
      frame(config.secret, reply, member, req),
      await withDelivery(db, rows),
      await agentNames(
        db,
        rows.map((r) => r.agent_id),
      ),
    );
  });
  view(app, db, '/members', async (member, req, reply) => {
    return membersPage(frame(config.secret, reply, member, req), await membersByEmail(db, member.workspace_id, 500));
  });
  view(app, db, '/webhooks', async (member, req, reply) => {
    return webhooksPage(
      frame(config.secret, reply, member, req),
      await endpointsWithFailures(db, dashboardCtx(member)),
    );
  });

  // Actions: the same core calls as the API, as this member, on channel "dashboard".
  /** Back to the agent's page when the form was there (a fixed path, never a URL from the form). */
  const agentTo = (req: FastifyRequest) =>
    (req.body as Body | undefined)?.back === 'agent' ? `/agents/${encodeURIComponent(idParam(req))}` : '/';
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
  const sessionTo = async (req: FastifyRequest, member: Member) => {
    const agentId = await agentOfSession(db, scopeOf(dashboardCtx(member)), idParam(req));
    return agentId ? `/agents/${agentId}` : '/';
  };
  for (const [verb, run, done] of [
    ['pause', pauseSession, 'paused'],
    ['resume', resumeSession, 'resumed'],
    ['cancel', cancelSession, 'cancelled'],
  ] as const) {
    act(app, deps, `/sessions/:id/${verb}`, sessionTo, async (m, req) => {
      await run(db, dashboardCtx(m), idParam(req));
      return `Session ${done}.`;
    });
  }
  act(
    app,
    deps,
    '/approvals/:id/respond',
    () => '/approvals',
    async (m, req, b) => {
      const responder = memberResponder(m, 'dashboard');
      const a = await decideApproval(
        db,
        dashboardCtx(m),
        idParam(req),
        { choice: b.choice ?? '' },
        responder,
        deps.approvals,
      );
      return `Answered: ${a.response_choice}.`;
    },
  );
  act(
    app,
    deps,
    '/webhooks/:id/deliveries/:delivery/redeliver',
    () => '/webhooks',
    async (m, req) => {
      const p = req.params as { id: string; delivery: string };
      await redeliver(db, dashboardCtx(m), p.id, p.delivery);
      return 'Redelivery queued.';
    },
  );
}
