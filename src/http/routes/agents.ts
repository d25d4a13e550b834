// /v1/agents: registering agents and the owner's controls. Thin: validate, call the core, render.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listActivity } from '../../activity/timeline.js';
import { deleteAgent, pauseAgent, startAgent, stopAgent, unpauseAgent } from '../../agents/control.js';
import { agentFields, agentName, createAgent, findAgent, listAgents, updateAgent } from '../../agents/registry.js';
import { agentView } from '../../agents/view.js';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { pageQuery } from '../../pagination.js';
import { principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { activityObject, agentObject, agentRef, errors, page } from '../schemas.js';

const params = z.object({ id: agentRef.describe('agent id or name') });
const secretNote = 'shown once: signs what Leash POSTs to delivery_url';
const tags = ['agents'];

export function registerAgentRoutes(root: FastifyInstance, deps: Deps) {
  registerRegistryRoutes(root, deps);
  registerControlRoutes(root, deps);
  registerTimelineRoute(root, deps);
}

function registerRegistryRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;
  const urlOpts = { allowPrivateUrls: deps.config.allowPrivateUrls };

  app.post('/v1/agents', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Register an agent; returns its API key once',
      body: z.object({ name: agentName, ...agentFields }).strict(),
      response: {
        201: z.object({
          agent: agentObject,
          api_key: z.string(),
          delivery_secret: z.string().optional().describe(secretNote),
        }),
        ...errors(400, 401, 403, 409),
      },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      return sendCreated(db, deps.config.secret, req, reply, (tx) => createAgent(tx, ctx, req.body, urlOpts));
    },
  });

  app.get('/v1/agents', {
    config: { access: 'member' },
    schema: {
      tags,
      summary: 'List agents',
      querystring: z.object(pageQuery),
      response: { 200: page(agentObject), ...errors(400, 401, 403) },
    },
    handler: async (req) => listAgents(db, principalOf(req).workspaceId, req.query),
  });

  app.get('/v1/agents/:id', {
    config: { access: 'member' },
    schema: {
      tags,
      summary: 'Get an agent by id or name',
      params,
      response: { 200: agentObject, ...errors(401, 403, 404) },
    },
    handler: async (req) => agentView(await findAgent(db, principalOf(req).workspaceId, req.params.id)),
  });

  app.patch('/v1/agents/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Rename an agent or change its display name or delivery_url',
      params,
      body: z.object({ name: agentName.optional(), ...agentFields }).strict(),
      response: {
        200: agentObject.extend({ delivery_secret: z.string().optional().describe(secretNote) }),
        ...errors(400, 401, 403, 404, 409),
      },
    },
    handler: async (req) => updateAgent(db, ctxFor(principalOf(req), 'api'), req.params.id, req.body, urlOpts),
  });

  app.delete('/v1/agents/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Delete an agent (its timeline is kept)',
      params,
      response: { 204: z.null(), ...errors(401, 403, 404) },
    },
    handler: async (req, reply) => {
      await deleteAgent(db, ctxFor(principalOf(req), 'api'), req.params.id, deps.approvals);
      return reply.code(204).send(null);
    },
  });
}

function registerControlRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/agents/:id/pause', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Pause: "send" blocks the agent’s outbound traffic; "full" also holds its inbound delivery',
      params,
      body: z.object({ mode: z.enum(['send', 'full']), reason: z.string().max(500).nullable().optional() }).strict(),
      response: { 200: agentObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => pauseAgent(db, ctxFor(principalOf(req), 'api'), req.params.id, req.body),
  });

  app.post('/v1/agents/:id/unpause', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Unpause',
      params,
      body: z.object({}).strict(),
      response: { 200: agentObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => unpauseAgent(db, ctxFor(principalOf(req), 'api'), req.params.id),
  });

  app.post('/v1/agents/:id/stop', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Stop: graceful (the runtime confirms by the deadline) or forced',
      description:
        'Graceful with a live connection: the agent becomes `stopping`, its runtime is sent `agent.stop_requested`, and this call waits up to `timeout` ms for `POST /v1/agents/me/stopped`. Without confirmation: `408 graceful_timeout` and the agent stays `stopping`. With no live connection it stops at once. Stopping cancels the agent’s open sessions.',
      params,
      body: z
        .object({
          graceful: z.boolean().default(true),
          timeout: z.number().int().min(0).max(300_000).default(30_000).describe('ms to wait for a graceful stop'),
        })
        .strict(),
      response: { 200: agentObject, ...errors(400, 401, 403, 404, 408, 409) },
    },
    handler: async (req) =>
      stopAgent(db, deps.notifier, ctxFor(principalOf(req), 'api'), req.params.id, req.body, deps.approvals),
  });

  app.post('/v1/agents/:id/start', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Start a stopped agent',
      params,
      body: z.object({}).strict(),
      response: { 200: agentObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => startAgent(db, ctxFor(principalOf(req), 'api'), req.params.id),
  });
}

function registerTimelineRoute(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.get('/v1/agents/:id/activity', {
    config: { access: 'member' },
    schema: {
      tags,
      summary: 'The agent’s timeline, newest first',
      params,
      querystring: z.object(pageQuery),
      response: { 200: page(activityObject), ...errors(400, 401, 403, 404) },
    },
    handler: async (req) => {
      const workspaceId = principalOf(req).workspaceId;
      const agent = await findAgent(db, workspaceId, req.params.id);
      return listActivity(db, workspaceId, agent.id, req.query);
    },
  });
}
