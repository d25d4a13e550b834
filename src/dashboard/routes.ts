// The dashboard adapter: sign-in, then pages over the same core actions as the API (the member's
// role decides, in the core). Forms post back with a CSRF token and redirect (post/redirect/get);
// a refusal is shown on the page it came from. /dashboard.js only refreshes the live part.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
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
import { sendPage } from '../http/pages/layout.js';
import { agentOfSession, cancelSession, pauseSession, recentSessions, resumeSession } from '../sessions/sessions.js';
import { endpointsWithFailures, redeliver } from '../webhooks/endpoints.js';
import {
  createLoginLinks,
  dashboardCtx,
  memberOfSession,
  SESSION_COOKIE,
  SESSION_MS,
  signInWithKey,
  signInWithLink,
  signOut,
} from './sign-in.js';
import {
  agentPage,
  agentsPage,
  approvalsPage,
  confirmLinkPage,
  loginPage,
  membersPage,
  webhooksPage,
  type Frame,
} from './views.js';

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

type Body = Record<string, string | undefined>;

export function registerDashboard(app: FastifyInstance, deps: Deps) {
  const { db, config } = deps;
  const secure = config.publicUrl.startsWith('https:');
  const csrf = (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) =>
    app.csrfProtection(req, reply, done);

  const who = async (req: FastifyRequest): Promise<Member | undefined> =>
    memberOfSession(db, req.cookies[SESSION_COOKIE]);
  // A notice travels in the redirect's query string, signed, so nobody can put words on our pages
  // with a crafted link.
  const sign = (kind: string, text: string) =>
    createHmac('sha256', config.secret).update(`dashboard-notice ${kind} ${text}`).digest('base64url').slice(0, 22);
  const noticeOf = (req: FastifyRequest): Frame['notice'] => {
    const q = req.query as { notice?: string; error?: string; sig?: string };
    const kind = q.error !== undefined ? 'error' : 'notice';
    const text = q.error ?? q.notice;
    if (!text || !q.sig || q.sig !== sign(kind, text)) return undefined;
    return { text: text.slice(0, 300), error: kind === 'error' };
  };
  const frame = (reply: FastifyReply, member: Member, req: FastifyRequest, back?: string): Frame => {
    const notice = noticeOf(req);
    return { member, csrf: reply.generateCsrf(), ...(notice ? { notice } : {}), ...(back ? { back } : {}) };
  };
  const signedIn = async (req: FastifyRequest, reply: FastifyReply, token: string) => {
    await signOut(db, req.cookies[SESSION_COOKIE]);
    return reply
      .setCookie(SESSION_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: SESSION_MS / 1000,
      })
      .code(303)
      .header('location', '/')
      .send();
  };
  const back = (reply: FastifyReply, to: string, key: 'notice' | 'error', text: string) =>
    reply
      .code(303)
      .header('location', `${to}?${key}=${encodeURIComponent(text)}&sig=${sign(key, text)}`)
      .send();

  /** A signed-in page; anyone else goes to /login. */
  const view = (
    path: string,
    render: (member: Member, req: FastifyRequest, reply: FastifyReply) => Promise<ReturnType<typeof agentsPage>>,
  ) =>
    app.get(path, { config: { html: true }, schema: { hide: true } }, async (req, reply) => {
      const member = await who(req);
      if (!member) return reply.code(303).header('location', '/login').send();
      return sendPage(reply, 200, await render(member, req, reply), { scripts: true });
    });

  /** A signed-in action: runs the core call, then back to `to` with what happened. */
  const act = (
    path: string,
    to: (req: FastifyRequest, member: Member) => string | Promise<string>,
    run: (member: Member, req: FastifyRequest, body: Body) => Promise<string>,
  ) =>
    app.post(path, { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
      const member = await who(req);
      if (!member) return reply.code(303).header('location', '/login').send();
      const where = await to(req, member);
      try {
        return back(reply, where, 'notice', await run(member, req, (req.body ?? {}) as Body));
      } catch (err) {
        if (err instanceof LeashError) return back(reply, where, 'error', err.message);
        throw err;
      }
    });

  app.get('/dashboard.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(LIVE_JS),
  );

  // Sign-in.
  app.get('/login', { config: { html: true }, schema: { hide: true } }, async (req, reply) => {
    return sendPage(
      reply,
      200,
      loginPage(reply.generateCsrf(), noticeOf(req)?.text, Boolean(config.email.smtpUrl && config.email.from)),
    );
  });
  app.post('/login', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    // A bad key here counts against the address as on the API, so the form is no way around that limit.
    req.server.authFailures.refuseIfBlocked(req, reply);
    const token = await signInWithKey(db, String((req.body as Body)?.key ?? ''));
    if (!token) {
      await req.server.authFailures.record(req, reply);
      return sendPage(reply, 401, loginPage(reply.generateCsrf(), 'That is not a valid member API key.'));
    }
    return signedIn(req, reply, token);
  });
  app.post('/login/email', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    const email = String((req.body as Body)?.email ?? '').slice(0, 320);
    if (config.email.smtpUrl && config.email.from && email) {
      // In the background: the answer takes as long for a stranger as for a member.
      const smtpUrl = config.email.smtpUrl;
      void createLoginLinks(db, email)
        .then(async (links) => {
          const transport = nodemailer.createTransport(smtpUrl);
          for (const { member, token } of links) {
            const url = `${config.publicUrl}/login/${token}`;
            await transport.sendMail({
              from: config.email.from,
              to: member.email,
              subject: 'Your Leash sign-in link',
              text: `Sign in to Leash (valid 15 minutes, once):\n\n${url}\n\nIf you did not ask for this, ignore this email.`,
            });
          }
        })
        .catch((err) => deps.log.warn({ err: err.message }, 'sign-in email failed'));
    }
    // The same answer whether or not the address belongs to a member.
    return back(reply, '/login', 'notice', 'If that address belongs to a member, a sign-in link is on its way.');
  });
  // Opening the emailed link asks to continue (mail scanners open links; a GET never signs in).
  app.get('/login/:token', { config: { html: true }, schema: { hide: true } }, async (req, reply) =>
    sendPage(
      reply,
      200,
      confirmLinkPage(reply.generateCsrf(), `/login/${encodeURIComponent((req.params as { token: string }).token)}`),
    ),
  );
  app.post(
    '/login/:token',
    { config: { html: true }, schema: { hide: true }, preHandler: csrf },
    async (req, reply) => {
      const token = await signInWithLink(db, (req.params as { token: string }).token);
      if (!token)
        return sendPage(
          reply,
          401,
          loginPage(reply.generateCsrf(), 'That sign-in link is used or expired; ask for a new one.'),
        );
      return signedIn(req, reply, token);
    },
  );
  app.post('/logout', { config: { html: true }, schema: { hide: true }, preHandler: csrf }, async (req, reply) => {
    await signOut(db, req.cookies[SESSION_COOKIE]);
    return reply
      .clearCookie(SESSION_COOKIE, { path: '/' })
      .clearCookie('_csrf', { path: '/' })
      .code(303)
      .header('location', '/login')
      .send();
  });

  // Pages.
  view('/', async (member, req, reply) => {
    const rows = await agentsByName(db, member.workspace_id, 500);
    return agentsPage(frame(reply, member, req), rows.map(agentView));
  });
  view('/agents/:id', async (member, req, reply) => {
    const row = await findAgent(db, member.workspace_id, (req.params as { id: string }).id);
    const sessions = await recentSessions(db, scopeOf(dashboardCtx(member)), row.id, 20);
    const activity = await recentActivity(db, member.workspace_id, row.id, 50);
    return agentPage(frame(reply, member, req, 'agent'), agentView(row), sessions, activity);
  });
  view('/approvals', async (member, req, reply) => {
    const { rows } = await pendingApprovals(db, scopeOf(dashboardCtx(member)), { limit: 100 });
    return approvalsPage(
      frame(reply, member, req),
      await withDelivery(db, rows),
      await agentNames(
        db,
        rows.map((r) => r.agent_id),
      ),
    );
  });
  view('/members', async (member, req, reply) => {
    return membersPage(frame(reply, member, req), await membersByEmail(db, member.workspace_id, 500));
  });
  view('/webhooks', async (member, req, reply) => {
    return webhooksPage(frame(reply, member, req), await endpointsWithFailures(db, dashboardCtx(member)));
  });

  // Actions: the same core calls as the API, as this member, on channel "dashboard".
  /** Back to the agent's page when the form was there (a fixed path, never a URL from the form). */
  const agentTo = (req: FastifyRequest) =>
    (req.body as Body | undefined)?.back === 'agent'
      ? `/agents/${encodeURIComponent((req.params as { id: string }).id)}`
      : '/';
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  act('/agents/:id/pause', agentTo, async (m, req, b) => {
    if (b.mode !== 'send' && b.mode !== 'full') throw new LeashError('invalid_request', 'mode: must be send or full');
    const a = await pauseAgent(db, dashboardCtx(m), id(req), {
      mode: b.mode,
      reason: b.reason?.trim().slice(0, 500) || null,
    });
    return `Paused ${a.name} (${a.pause?.mode}).`;
  });
  act(
    '/agents/:id/unpause',
    agentTo,
    async (m, req) => `Unpaused ${(await unpauseAgent(db, dashboardCtx(m), id(req))).name}.`,
  );
  act(
    '/agents/:id/start',
    agentTo,
    async (m, req) => `Started ${(await startAgent(db, dashboardCtx(m), id(req))).name}.`,
  );
  act('/agents/:id/stop', agentTo, async (m, req, b) => {
    // A graceful stop from the dashboard waits a short while; past that the agent stays stopping
    // and the page offers Force stop.
    const graceful = b.force !== '1';
    const a = await stopAgent(
      db,
      deps.notifier,
      dashboardCtx(m),
      id(req),
      { graceful, timeout: 10_000 },
      deps.approvals,
    );
    return `Stopped ${a.name}${graceful ? '' : ' (forced)'}.`;
  });
  const sessionTo = async (req: FastifyRequest, member: Member) => {
    const agentId = await agentOfSession(db, scopeOf(dashboardCtx(member)), id(req));
    return agentId ? `/agents/${agentId}` : '/';
  };
  for (const [verb, run, done] of [
    ['pause', pauseSession, 'paused'],
    ['resume', resumeSession, 'resumed'],
    ['cancel', cancelSession, 'cancelled'],
  ] as const) {
    act(`/sessions/:id/${verb}`, sessionTo, async (m, req) => {
      await run(db, dashboardCtx(m), id(req));
      return `Session ${done}.`;
    });
  }
  act(
    '/approvals/:id/respond',
    () => '/approvals',
    async (m, req, b) => {
      const responder = memberResponder(m, 'dashboard');
      const a = await decideApproval(
        db,
        dashboardCtx(m),
        id(req),
        { choice: b.choice ?? '' },
        responder,
        deps.approvals,
      );
      return `Answered: ${a.response_choice}.`;
    },
  );
  act(
    '/webhooks/:id/deliveries/:delivery/redeliver',
    () => '/webhooks',
    async (m, req) => {
      const p = req.params as { id: string; delivery: string };
      await redeliver(db, dashboardCtx(m), p.id, p.delivery);
      return 'Redelivery queued.';
    },
  );
}
