// The pending approvals page and its answer form.
import type { FastifyInstance } from 'fastify';
import { agentNames } from '../agents/registry.js';
import { withDelivery } from '../approvals/approvals.js';
import { decideApproval } from '../approvals/decide.js';
import { tallyOf } from '../approvals/votes.js';
import { pendingApprovals } from '../approvals/pending.js';
import { scopeOf } from '../context.js';
import type { Deps } from '../deps.js';
import { memberResponder } from '../members/acting.js';
import { act, frame, idParam, view } from './member-routes.js';
import { dashboardCtx } from './sign-in.js';
import { approvalsPage } from './views.js';

export function registerApprovalsPage(app: FastifyInstance, { db, config }: Deps) {
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
}

export function registerApprovalActions(app: FastifyInstance, deps: Deps) {
  act(
    app,
    deps,
    '/approvals/:id/respond',
    () => '/approvals',
    async (m, req, b) => {
      const responder = memberResponder(m, 'dashboard');
      const a = await decideApproval(
        deps.db,
        dashboardCtx(m),
        idParam(req),
        { choice: b.choice ?? '' },
        responder,
        deps.approvals,
      );
      if (a.status === 'pending') return `Vote recorded: ${tallyOf(a)}.`;
      return `Answered: ${a.response_choice}.`;
    },
  );
}
