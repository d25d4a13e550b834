// /v1/pause: PausePoint-compatible approvals. Agents (or approvers) ask; approvers answer.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { findAgent } from '../../agents/registry.js';
import { approvalKey, approvalView, audienceOf, createApproval, listApprovals } from '../../approvals/approvals.js';
import { scopeOf } from '../../context.js';
import { cancelApproval, decideApproval, readApproval } from '../../approvals/decide.js';
import { pauseRequestSchema } from '../../approvals/request.js';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { memberResponder } from '../../members/acting.js';
import { pageQuery } from '../../pagination.js';
import { memberOf, principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { agentRef, approvalObject, errors, page, uuid } from '../schemas.js';

const params = z.object({ pause_id: uuid });
const tags = ['approvals'];

export function registerApprovalRoutes(root: FastifyInstance, deps: Deps) {
  registerAskingRoutes(root, deps);
  registerAnsweringRoutes(root, deps);
}

function registerAskingRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db, approvals: settings } = deps;

  app.post('/v1/pause', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'Ask a human: a question with 2–5 options, on one channel, with a timeout',
      body: pauseRequestSchema(deps.config.maxTimeoutHours, deps.approvals.channels.known, {
        allowHttp: deps.config.allowPrivateUrls,
      }),
      response: { 201: approvalObject, ...errors(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const p = principalOf(req);
      const ctx = ctxFor(p, 'api');
      return sendCreated(db, deps.config.secret, req, reply, (tx) =>
        createApproval(tx, ctx, p.kind === 'agent' ? p.agent : undefined, req.body, settings),
      );
    },
  });

  app.get('/v1/pause/:pause_id', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'Poll an approval; ?wait=N long-polls up to N seconds for a decision',
      params,
      querystring: z.object({
        wait: z.coerce.number().min(0).max(60).default(0).describe('seconds to wait while pending'),
      }),
      response: { 200: approvalObject, ...errors(400, 401, 404, 429, 503) },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      const scope = scopeOf(ctx);
      const audience = audienceOf(ctx);
      const id = req.params.pause_id;
      const load = () => readApproval(db, scope, id, settings);
      if (req.query.wait === 0) return approvalView(await load(), settings, audience);
      const settled = await root.waits.during(req, reply, () =>
        deps.notifier.waitFor(approvalKey(id), req.query.wait * 1000, async () => {
          const row = await load();
          return row.status === 'pending' ? undefined : row;
        }),
      );
      return approvalView(settled ?? (await load()), settings, audience);
    },
  });

  app.get('/v1/pause', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'List approvals, newest first',
      querystring: z.object({
        ...pageQuery,
        status: z.enum(['pending', 'responded', 'timed_out', 'cancelled']).optional(),
        agent_id: agentRef.optional().describe('agent id or name'),
      }),
      response: { 200: page(approvalObject), ...errors(400, 401, 404) },
    },
    handler: async (req) => {
      const ctx = ctxFor(principalOf(req), 'api');
      const scope = scopeOf(ctx);
      const agentId = req.query.agent_id ? (await findAgent(db, scope.workspaceId, req.query.agent_id)).id : undefined;
      return listApprovals(db, scope, { status: req.query.status, agentId }, req.query, settings, audienceOf(ctx));
    },
  });
}

function registerAnsweringRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db, approvals: settings } = deps;

  app.post('/v1/pause/:pause_id/respond', {
    config: { access: 'approver' },
    schema: {
      tags,
      summary: 'Answer an approval (the first answer wins; later ones get 409 not_pending)',
      params,
      body: z.object({ choice: z.string().min(1).max(200), text: z.string().max(2000).nullable().optional() }).strict(),
      response: { 200: approvalObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => {
      const member = memberOf(req);
      const ctx = ctxFor(principalOf(req), 'api');
      return decideApproval(db, ctx, req.params.pause_id, req.body, memberResponder(member, 'api'), settings);
    },
  });

  app.post('/v1/pause/:pause_id/cancel', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'Withdraw a pending approval (the asking agent, or an approver)',
      params,
      body: z.object({}).strict(),
      response: { 200: approvalObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => cancelApproval(db, ctxFor(principalOf(req), 'api'), req.params.pause_id, settings),
  });
}
