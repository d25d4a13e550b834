// The forms on an agent's page that pause, resume or cancel one of its sessions.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { scopeOf } from '../context.js';
import type { Db } from '../db/index.js';
import type { Member } from '../db/schema.js';
import type { Deps } from '../deps.js';
import { agentOfSession, cancelSession, pauseSession, resumeSession } from '../sessions/sessions.js';
import { act, idParam } from './member-routes.js';
import { dashboardCtx } from './sign-in.js';

/** Back to the page of the session's agent. */
const sessionTo = (db: Db) => async (req: FastifyRequest, member: Member) => {
  const agentId = await agentOfSession(db, scopeOf(dashboardCtx(member)), idParam(req));
  return agentId ? `/agents/${agentId}` : '/';
};

export function registerSessionActions(app: FastifyInstance, deps: Deps) {
  for (const [verb, run, done] of [
    ['pause', pauseSession, 'paused'],
    ['resume', resumeSession, 'resumed'],
    ['cancel', cancelSession, 'cancelled'],
  ] as const) {
    act(app, deps, `/sessions/:id/${verb}`, sessionTo(deps.db), async (m, req) => {
      await run(deps.db, dashboardCtx(m), idParam(req));
      return `Session ${done}.`;
    });
  }
}
