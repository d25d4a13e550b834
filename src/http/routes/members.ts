// /v1/members: people and their linked identities (email, phone, Slack, Telegram), and whether
// each identity's holder has confirmed it.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import {
  addMember,
  getMember,
  identityFields,
  listMembers,
  memberView,
  removeMember,
  role,
  updateMember,
} from '../../members/members.js';
import { createLinkCode } from '../../members/link-codes.js';
import { pageQuery } from '../../pagination.js';
import { memberOf, principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { errors, isoTime, memberObject, page, uuid } from '../schemas.js';

const params = z.object({ id: uuid });
const email = z.email('must be an email address').max(320);
const tags = ['members'];

// In this order: the OpenAPI document lists paths as they were registered, /v1/members/me before
// /v1/members/{id}.
export function registerMemberRoutes(root: FastifyInstance, deps: Deps) {
  registerRosterRoutes(root, deps);
  registerSelfRoutes(root, deps);
  registerOneMemberRoutes(root, deps);
}

function registerRosterRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/members', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary:
        'Add a member; returns their API key once (identities given here are unconfirmed until their holder confirms them)',
      body: z.object({ email, role, ...identityFields }).strict(),
      response: { 201: z.object({ member: memberObject, api_key: z.string() }), ...errors(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      return sendCreated(db, deps.config.secret, req, reply, (tx) => addMember(tx, ctx, req.body));
    },
  });

  app.get('/v1/members', {
    config: { access: 'member' },
    schema: {
      tags,
      summary: 'List members',
      querystring: z.object(pageQuery),
      response: { 200: page(memberObject), ...errors(400, 401, 403) },
    },
    handler: async (req) => listMembers(db, principalOf(req).workspaceId, req.query),
  });
}

function registerSelfRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.get('/v1/members/me', {
    config: { access: 'member' },
    schema: { tags, summary: 'The calling member', response: { 200: memberObject, ...errors(401, 403) } },
    handler: async (req) => memberView(memberOf(req)),
  });

  app.post('/v1/members/me/link-codes', {
    config: { access: 'member' },
    schema: {
      tags,
      summary:
        'A one-time code to link and confirm your Slack account, Telegram account or phone (valid 10 minutes, single use)',
      description:
        'Send it from the identity itself: an identity an owner set acts only once its holder confirms it this way.',
      response: { 201: z.object({ code: z.string(), expires_at: isoTime, how: z.string() }), ...errors(401, 403) },
    },
    handler: async (req, reply) => {
      const out = await createLinkCode(db, ctxFor(principalOf(req), 'api'));
      const to = deps.config.twilio.from ? ` to ${deps.config.twilio.from}` : '';
      return reply.code(201).send({
        ...out,
        how: `In Slack: /leash link ${out.code} · in Telegram: /link ${out.code} · by SMS from your phone: LINK ${out.code}${to}`,
      });
    },
  });
}

function registerOneMemberRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.get('/v1/members/:id', {
    config: { access: 'member' },
    schema: { tags, summary: 'Get a member', params, response: { 200: memberObject, ...errors(400, 401, 403, 404) } },
    handler: async (req) => memberView(await getMember(db, principalOf(req).workspaceId, req.params.id)),
  });

  app.patch('/v1/members/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary:
        'Change a member’s role or identities (null unlinks an identity; a changed identity is unconfirmed until its holder confirms it)',
      params,
      body: z.object({ email: email.optional(), role: role.optional(), ...identityFields }).strict(),
      response: { 200: memberObject, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req) => updateMember(db, ctxFor(principalOf(req), 'api'), req.params.id, req.body),
  });

  app.delete('/v1/members/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Remove a member (their key stops working)',
      params,
      response: { 204: z.null(), ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) => {
      await removeMember(db, ctxFor(principalOf(req), 'api'), req.params.id);
      return reply.code(204).send(null);
    },
  });
}
