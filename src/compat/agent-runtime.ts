// The agent runtime API: GET /agents, GET /agents/{agentId}, POST /agents/{agentId}/stop
// {graceful, timeout} and /start. agentId is the agent's name (or its id). Answers {success, message,
// data}; errors {success: false, error: <the document's sentence>}. docs/compat.md maps each field.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { startAgent, stopAgent } from '../agents/control.js';
import { agentsByName, findAgent } from '../agents/registry.js';
import type { AgentView } from '../agents/view.js';
import { agentView } from '../agents/view.js';
import { ctxFor } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { fail } from '../errors.js';
import { principalOf } from '../http/auth.js';
import { answerErrorsAs, type Failure, type Shape } from './errors.js';

/** The document's error sentences, by Leash's code. */
const SENTENCES: Partial<Record<Failure['code'], string>> = {
  not_found: 'Agent not found',
  not_running: 'Agent is not running',
  already_running: 'Agent is already running',
  graceful_timeout: 'Graceful shutdown timed out',
};

/** Only a stopped agent is inactive: a paused one still runs (it is held, not shut down). */
export const runtimeErrors: Shape = (f) => ({ success: false, error: SENTENCES[f.code] ?? f.message });

const runtimeStatus = (view: Pick<AgentView, 'status'>) => (view.status === 'inactive' ? 'inactive' : 'active');

const stopBody = z
  .object({ graceful: z.boolean().default(true), timeout: z.number().int().min(0).max(300_000).default(30_000) })
  .default({ graceful: true, timeout: 30_000 });

export async function registerAgentRuntimeCompat(app: FastifyInstance, deps: Deps): Promise<void> {
  answerErrorsAs(app, runtimeErrors);
  const { db } = deps;
  const via = (route: string) => `compat: ${route}`;

  app.get('/agents', { config: { access: 'member' }, schema: { hide: true } }, async (req) => {
    const rows = await agentsByName(db, principalOf(req).workspaceId, 1_000);
    return { success: true, data: rows.map((a) => ({ agentId: a.name, status: runtimeStatus(agentView(a)) })) };
  });

  app.get<{ Params: { agentId: string } }>(
    '/agents/:agentId',
    { config: { access: 'member' }, schema: { hide: true } },
    async (req) => {
      const view = agentView(await findAgent(db, principalOf(req).workspaceId, req.params.agentId));
      return { success: true, data: { agentId: view.name, status: runtimeStatus(view) } };
    },
  );

  app.post<{ Params: { agentId: string } }>(
    '/agents/:agentId/stop',
    { config: { access: 'owner' }, schema: { hide: true } },
    async (req) => {
      const parsed = stopBody.safeParse(req.body ?? undefined);
      if (!parsed.success)
        fail(
          'invalid_request',
          `body: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`,
        );
      const input = parsed.data;
      const ctx = ctxFor(principalOf(req), 'api', via('POST /agents/{agentId}/stop'));
      const view = await stopAgent(db, deps.notifier, ctx, req.params.agentId, input, deps.approvals);
      const stoppedAt = view.stopped_at ? Date.parse(view.stopped_at) : Date.now();
      return {
        success: true,
        message: 'Agent stopped successfully',
        data: { agentId: view.name, status: 'inactive', stoppedAt },
      };
    },
  );

  app.post<{ Params: { agentId: string } }>(
    '/agents/:agentId/start',
    { config: { access: 'owner' }, schema: { hide: true } },
    async (req) => {
      const ctx = ctxFor(principalOf(req), 'api', via('POST /agents/{agentId}/start'));
      const view = await startAgent(db, ctx, req.params.agentId);
      return { success: true, message: 'Agent started successfully', data: { agentId: view.name, status: 'active' } };
    },
  );
}
