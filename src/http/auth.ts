// Bearer-key authentication and the role check, declared per route as `config: { access }`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticate, hasRole, type Principal } from '../auth/principal.js';
import type { Db } from '../db/index.js';
import type { AgentRow, Member } from '../db/schema.js';
import { fail } from '../errors.js';
import type { RateLimits } from './rate-limits.js';

/** public: no key. member/approver/owner: a member key with at least that role. agent: an agent key.
 *  any: either kind of key (the handler narrows). */
export type Access = 'public' | 'member' | 'approver' | 'owner' | 'agent' | 'any';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** An HTML page: errors render as a page, not as JSON. */
    html?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/** Refused keys count against the client address (a 429 instead once it is over its failures). */
async function unauthorized(
  limits: RateLimits,
  req: FastifyRequest,
  reply: FastifyReply,
  message: string,
): Promise<never> {
  await limits.failures.record(req, reply);
  fail('unauthorized', message);
}

/** An address over its failed authentications is refused before its key is looked up; an
 *  authenticated request counts against its key before anything else is decided. */
export function registerAuth(app: FastifyInstance, db: Db, limits: RateLimits) {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req, reply) => {
    const access = req.routeOptions.config.access ?? 'public';
    if (access === 'public') return;
    limits.failures.refuseIfBlocked(req, reply);
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) return unauthorized(limits, req, reply, 'Send your API key as "Authorization: Bearer <key>"');
    const principal = await authenticate(db, match[1]!);
    if (!principal) return unauthorized(limits, req, reply, 'That API key is not valid (unknown or revoked)');
    req.principal = principal;
    await limits.perKey(req, reply);
    if (access === 'any') return;
    if (access === 'agent') {
      if (principal.kind !== 'agent') fail('forbidden', 'This route takes an agent key');
      return;
    }
    if (principal.kind !== 'member') fail('forbidden', 'This route takes a member key, not an agent key');
    if (access !== 'member' && !hasRole(principal.member, access)) {
      fail('forbidden', `This needs the ${access} role; you are ${principal.member.role}`);
    }
  });
}

export function principalOf(req: FastifyRequest): Principal {
  return req.principal!;
}

export function memberOf(req: FastifyRequest): Member {
  const p = req.principal;
  if (p?.kind !== 'member') fail('forbidden', 'This route takes a member key');
  return p.member;
}

export function agentOf(req: FastifyRequest): AgentRow {
  const p = req.principal;
  if (p?.kind !== 'agent') fail('forbidden', 'This route takes an agent key');
  return p.agent;
}
