// The workspace's members page.
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps.js';
import { membersByEmail } from '../members/members.js';
import { frame, view } from './member-routes.js';
import { membersPage } from './views.js';

export function registerMembersPage(app: FastifyInstance, { db, config }: Deps) {
  view(app, db, '/members', async (member, req, reply) => {
    return membersPage(frame(config.secret, reply, member, req), await membersByEmail(db, member.workspace_id, 500));
  });
}
