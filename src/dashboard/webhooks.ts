// The webhooks page, with each endpoint's failed deliveries, and the form that redelivers one.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.js';
import { endpointsWithFailures, redeliver } from '../webhooks/endpoints.js';
import { act, frame, view } from './member-routes.js';
import { dashboardCtx } from './sign-in.js';
import { webhooksPage } from './views.js';

export function registerWebhooksPage(app: FastifyInstance, { db, config }: Deps) {
  view(app, db, '/webhooks', async (member, req, reply) => {
    return webhooksPage(
      frame(config.secret, reply, member, req),
      await endpointsWithFailures(db, dashboardCtx(member)),
    );
  });
}

export function registerWebhookActions(app: FastifyInstance, deps: Deps) {
  act(
    app,
    deps,
    '/webhooks/:id/deliveries/:delivery/redeliver',
    () => '/webhooks',
    async (m, req) => {
      const p = req.params as { id: string; delivery: string };
      await redeliver(deps.db, dashboardCtx(m), p.id, p.delivery);
      return 'Redelivery queued.';
    },
  );
}
