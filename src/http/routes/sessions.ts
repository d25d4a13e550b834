// /v1/sessions: an agent opens sessions; owners (or the agent itself) pause, resume, cancel them.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { findAgent } from '../../agents/registry.js';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { pageQuery } from '../../pagination.js';
import {
  cancelSession,
  completeSession,
  createSession,
  getSession,
  listSessions,
  pauseSession,
  resumeSession,
} from '../../sessions/sessions.js';
import { agentOf, principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { agentRef, errors, page, sessionObject, uuid } from '../schemas.js';

const params = z.object({ id: uuid });
const METADATA_LIMIT = 16 * 1024;
const tags = ['sessions'];

export function registerSessionRoutes(root: FastifyInstance, deps: Deps) {
  registerOpenAndReadRoutes(root, deps);
  registerControlRoutes(root, deps);
}

function registerOpenAndReadRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/sessions', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Open a session (one task run) for the calling agent',
      body: z
        .object({
          task: z.string().max(2000).nullable().optional(),
          metadata: z
            .record(z.string(), z.unknown())
            .nullable()
            .optional()
            .refine(
              (m) => m == null || Buffer.byteLength(JSON.stringify(m)) <= METADATA_LIMIT,
              'must be at most 16 KiB as JSON',
            ),
        })
        .strict(),
      response: { 201: sessionObject, ...errors(400, 401, 403) },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      return sendCreated(db, deps.config.secret, req, reply, (tx) => createSession(tx, ctx, agentOf(req), req.body));
    },
  });

  app.get('/v1/sessions', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'List sessions, newest first',
      querystring: z.object({
        ...pageQuery,
        agent_id: agentRef.optional().describe('agent id or name'),
        status: z.enum(['running', 'paused', 'cancelled', 'completed']).optional(),
      }),
      response: { 200: page(sessionObject), ...errors(400, 401, 404) },
    },
    handler: async (req) => {
      const ctx = ctxFor(principalOf(req), 'api');
      const agentId = req.query.agent_id ? (await findAgent(db, ctx.workspaceId, req.query.agent_id)).id : undefined;
      return listSessions(db, ctx, { agentId, status: req.query.status }, req.query);
    },
  });

  app.get('/v1/sessions/:id', {
    config: { access: 'any' },
    schema: { tags, summary: 'Get a session', params, response: { 200: sessionObject, ...errors(400, 401, 404) } },
    handler: async (req) => getSession(db, ctxFor(principalOf(req), 'api'), req.params.id),
  });
}

function registerControlRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  const controls = [
    ['pause', pauseSession, 'Pause a running session (409 already_paused)'],
    ['resume', resumeSession, 'Resume a paused session (409 not_paused)'],
    ['cancel', cancelSession, 'Cancel a session (409 already_finished)'],
  ] as const;
  for (const [verb, action, summary] of controls) {
    app.post(`/v1/sessions/:id/${verb}`, {
      config: { access: 'any' },
      schema: {
        tags,
        summary,
        params,
        body: z.object({}).strict(),
        response: { 200: sessionObject, ...errors(400, 401, 403, 404, 409) },
      },
      handler: async (req) => action(db, ctxFor(principalOf(req), 'api'), req.params.id),
    });
  }

  app.post('/v1/sessions/:id/complete', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Mark the calling agent’s session completed',
      params,
      body: z.object({}).strict(),
      response: { 200: sessionObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => completeSession(db, ctxFor(principalOf(req), 'api'), req.params.id),
  });
}
