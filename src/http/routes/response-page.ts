// GET/POST /r/{token}: the response page. Holding the signed link is the authority to answer
// (contract §3.1). GET never decides (mail scanners prefetch links); POST decides through the same
// decideApproval as every other surface, behind a CSRF token.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { decideApproval, expireApproval, isNotPending } from '../../approvals/decide.js';
import { verifyLink, type LinkTarget } from '../../approvals/links.js';
import type { Ctx } from '../../context.js';
import { isUuid, type Db } from '../../db/index.js';
import type { ApprovalRow, Responder } from '../../db/schema.js';
import type { Deps } from '../../deps.js';
import { LeashError } from '../../errors.js';
import { messagePage, sendPage } from '../pages/layout.js';
import { responsePage } from '../pages/response-page.js';

async function load(db: Db, target: LinkTarget): Promise<ApprovalRow | undefined> {
  return db.selectFrom('approvals').selectAll().where('id', '=', target.approvalId).executeTakeFirst();
}

async function askedBy(db: Db, a: ApprovalRow): Promise<string> {
  if (!a.agent_id) return a.requested_by.display;
  const agent = await db.selectFrom('agents').select(['name', 'display_name']).where('id', '=', a.agent_id).executeTakeFirst();
  return agent ? (agent.display_name ?? agent.name) : a.requested_by.display;
}

/** The person the approval was addressed to, when the recipient names a member of the workspace. */
async function responderFor(db: Db, a: ApprovalRow): Promise<Responder> {
  const member = await db
    .selectFrom('members')
    .select(['id', 'email', 'display_name'])
    .where('workspace_id', '=', a.workspace_id)
    .where((eb) => (isUuid(a.recipient) ? eb('id', '=', a.recipient) : eb(eb.fn('lower', ['email']), '=', a.recipient.toLowerCase())))
    .executeTakeFirst();
  return member ? { channel: 'web', member_id: member.id, display: member.display_name ?? member.email } : { channel: 'web', display: a.recipient };
}

const NOT_VALID = () => messagePage('Link not valid', 'This link is not valid. Ask for a new one, or answer from another channel.');

export function registerResponsePage(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db, approvals: links } = deps;
  const params = z.object({ token: z.string().max(100) });

  async function render(reply: FastifyReply, token: string, target: LinkTarget, status = 200, notice?: string) {
    let a = await load(db, target);
    if (!a) return sendPage(reply, 404, NOT_VALID());
    // Past its deadline but the timer has not fired yet: settle it so the page tells the truth.
    if (a.status === 'pending' && a.expires_at.getTime() <= Date.now()) {
      await expireApproval(db, a.id, links);
      a = (await load(db, target))!;
    }
    const preselected = target.choice !== undefined ? a.options[target.choice] : undefined;
    const content = responsePage({ approval: a, askedBy: await askedBy(db, a), csrf: reply.generateCsrf(), action: `/r/${token}`, preselected, notice });
    return sendPage(reply, status, content);
  }

  app.get('/r/:token', {
    config: { html: true },
    schema: { hide: true, params },
    handler: async (req, reply) => {
      const target = verifyLink(deps.config.secret, req.params.token);
      if (!target) return sendPage(reply, 404, NOT_VALID());
      return render(reply, req.params.token, target);
    },
  });

  app.post('/r/:token', {
    config: { html: true },
    schema: { hide: true, params, body: z.object({ choice: z.string().max(200).optional(), text: z.string().max(2000).optional(), _csrf: z.string().optional() }) },
    preHandler: (req, reply, done) => app.csrfProtection(req, reply, done),
    handler: async (req, reply) => {
      const target = verifyLink(deps.config.secret, req.params.token);
      if (!target) return sendPage(reply, 404, NOT_VALID());
      const a = await load(db, target);
      if (!a) return sendPage(reply, 404, NOT_VALID());
      const responder = await responderFor(db, a);
      const ctx: Ctx = { workspaceId: a.workspace_id, channel: 'web', actor: { type: 'link', id: responder.member_id ?? null, display: responder.display } };
      try {
        await decideApproval(db, ctx, a.id, { choice: req.body.choice ?? '', text: req.body.text || null }, responder, links);
      } catch (err) {
        if (isNotPending(err)) return render(reply, req.params.token, target, 409, err.message);
        if (err instanceof LeashError && err.code === 'invalid_request') return render(reply, req.params.token, target, 400, 'Choose one of the options below.');
        throw err;
      }
      // Post/redirect/get: a reload shows the outcome instead of re-posting.
      return reply.code(303).header('location', `/r/${req.params.token}`).header('cache-control', 'no-store').send();
    },
  });
}
