// GET/POST /r/{token}: the response page. Holding the signed link is the authority to answer
// (contract §3.1). GET never decides (mail scanners prefetch links); POST decides through the same
// decideApproval as every other surface, behind a CSRF token.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { approvalById, askedBy, linkedApproval, linkHolder } from '../../approvals/answering.js';
import { linkDeciding } from '../../approvals/channels.js';
import { decideApproval, isNotPending } from '../../approvals/decide.js';
import { agreeingVotes, tallyText } from '../../approvals/votes.js';
import { verifyLink, type LinkTarget } from '../../approvals/links.js';
import type { Ctx } from '../../context.js';
import type { Responder } from '../../db/schema.js';
import type { Db } from '../../db/index.js';
import type { Deps } from '../../deps.js';
import { LeashError } from '../../errors.js';
import { messagePage, sendPage } from '../pages/layout.js';
import { responsePage } from '../pages/response-page.js';

/** Form fields skip the JSON parser's guard, so NUL is refused here (Postgres cannot store it). */
const storable = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters');

const NOT_VALID = () =>
  messagePage('Link not valid', 'This link is not valid. Ask for a new one, or answer from another channel.');

/** The page decides a question Leash sent the link for: on its own channel, or an escalation's. */
async function linkDecidesFor(db: Db, channels: string[], a: { id: string; channel: string }): Promise<boolean> {
  if (channels.includes(a.channel)) return true;
  const sent = await db
    .selectFrom('prompts')
    .select('id')
    .where('approval_id', '=', a.id)
    .where('channel', 'in', channels)
    .where('status', '=', 'sent')
    .executeTakeFirst();
  return sent !== undefined;
}

export function registerResponsePage(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db, approvals: links } = deps;
  const params = z.object({ token: z.string().max(100) });

  async function render(reply: FastifyReply, token: string, target: LinkTarget, status = 200, notice?: string) {
    const a = await linkedApproval(db, target, links);
    if (!a) return sendPage(reply, 404, NOT_VALID());
    const preselected = target.choice !== undefined ? a.options[target.choice] : undefined;
    const content = responsePage({
      approval: a,
      askedBy: await askedBy(db, a),
      csrf: reply.generateCsrf(),
      action: `/r/${token}`,
      preselected,
      notice,
      decides: await linkDecidesFor(db, linkDeciding(links.channels), a),
      tally:
        a.status === 'pending' && a.approvals_required > 1
          ? `${tallyText(await agreeingVotes(db, a), a.approvals_required)} for ${a.options[0]} so far`
          : undefined,
    });
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
    schema: {
      hide: true,
      params,
      body: z.object({
        choice: storable(200).optional(),
        text: storable(2000).optional(),
        _csrf: z.string().optional(),
      }),
    },
    preHandler: (req, reply, done) => app.csrfProtection(req, reply, done),
    handler: async (req, reply) => {
      const target = verifyLink(deps.config.secret, req.params.token);
      if (!target) return sendPage(reply, 404, NOT_VALID());
      const a = await approvalById(db, target.approvalId);
      if (!a) return sendPage(reply, 404, NOT_VALID());
      // Whoever holds the link may answer, so the answer is credited to the link (and the person it
      // was addressed to), never to a member account: the link proves nobody's identity.
      const responder: Responder = { channel: 'web', display: await linkHolder(db, a) };
      const ctx: Ctx = {
        workspaceId: a.workspace_id,
        channel: 'web',
        actor: { type: 'link', id: null, display: responder.display },
      };
      try {
        await decideApproval(
          db,
          ctx,
          a.id,
          { choice: req.body.choice ?? '', text: req.body.text || null },
          responder,
          links,
        );
      } catch (err) {
        // Too late, already voted; not this question's approver: said on the page, like the rest.
        if (isNotPending(err) || (err instanceof LeashError && (err.status === 409 || err.status === 403)))
          return render(reply, req.params.token, target, (err as LeashError).status, (err as LeashError).message);
        if (err instanceof LeashError && err.code === 'invalid_request')
          return render(reply, req.params.token, target, 400, 'Choose one of the options below.');
        throw err;
      }
      // Post/redirect/get: a reload shows the outcome instead of re-posting.
      return reply.code(303).header('location', `/r/${req.params.token}`).header('cache-control', 'no-store').send();
    },
  });
}
