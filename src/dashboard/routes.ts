// The dashboard adapter: sign-in, then pages over the same core actions as the API (the member's
// role decides, in the core). Forms post back with a CSRF token and redirect (post/redirect/get);
// a refusal is shown on the page it came from. /dashboard.js only refreshes the live part.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.js';
import { registerAgentActions, registerAgentPages } from './agents.js';
import { registerApprovalActions, registerApprovalsPage } from './approvals.js';
import { registerMembersPage } from './members.js';
import { registerSessionActions } from './sessions.js';
import { registerSignIn } from './sign-in-routes.js';
import { registerWebhookActions, registerWebhooksPage } from './webhooks.js';

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
  app.get('/dashboard.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(LIVE_JS),
  );
  registerSignIn(app, deps);
  // Every page before any action, as they were always registered.
  registerAgentPages(app, deps);
  registerApprovalsPage(app, deps);
  registerMembersPage(app, deps);
  registerWebhooksPage(app, deps);
  // Actions: the same core calls as the API, as this member, on channel "dashboard".
  registerAgentActions(app, deps);
  registerSessionActions(app, deps);
  registerApprovalActions(app, deps);
  registerWebhookActions(app, deps);
}
