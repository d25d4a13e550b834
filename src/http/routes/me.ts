// The agent's own view (agent key): its state, its stop confirmation, and the directory.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmStopped } from '../../agents/control.js';
import { findAgent } from '../../agents/registry.js';
import { agentView, directoryView } from '../../agents/view.js';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { agentOf, principalOf } from '../auth.js';
import { agentObject, agentRef, errors } from '../schemas.js';

export function registerMeRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;
  const tags = ['agent'];

  app.get('/v1/agents/me', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'The calling agent: is it paused, and how?',
      response: { 200: agentObject, ...errors(401, 403) },
    },
    handler: async (req) => agentView(agentOf(req)),
  });

  app.post('/v1/agents/me/stopped', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Confirm a graceful stop (or report that the agent stopped by itself)',
      body: z.object({}).strict(),
      response: { 200: agentObject, ...errors(400, 401, 403, 409) },
    },
    handler: async (req) => confirmStopped(db, ctxFor(principalOf(req), 'api'), agentOf(req).id, deps.approvals),
  });

  app.get('/v1/directory/:name', {
    config: { access: 'any' },
    schema: {
      tags,
      summary: 'Another agent’s public profile (never its pause state)',
      params: z.object({ name: agentRef }),
      response: {
        200: z
          .object({ name: z.string(), display_name: z.string().nullable(), presence: z.enum(['online', 'offline']) })
          .meta({ id: 'DirectoryEntry' }),
        ...errors(401, 404),
      },
    },
    handler: async (req) => directoryView(await findAgent(db, principalOf(req).workspaceId, req.params.name)),
  });
}
