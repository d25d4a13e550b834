// /v1/messages and /v1/blocks: agents message each other through durable inboxes (agent keys).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { ackMessages, blockAgent, listBlocks, readInbox, sendMessage, unblockAgent } from '../../messages/messages.js';
import { principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { agentRef, errors, isoTime, uuid } from '../schemas.js';

const BODY_LIMIT = 64 * 1024;

const messageObject = z
  .object({ id: uuid, seq: z.number().int(), from: z.string(), from_id: uuid, body: z.unknown(), created_at: isoTime })
  .meta({ id: 'Message' });
const tags = ['messages'];

export function registerMessageRoutes(root: FastifyInstance, deps: Deps) {
  registerInboxRoutes(root, deps);
  registerBlockRoutes(root, deps);
}

function registerInboxRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/messages', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Send a message to another agent (stored durably; 202 means committed)',
      body: z
        .object({
          to: z.string().min(1).max(64).describe('agent id or name'),
          body: z
            .unknown()
            .refine((v) => v !== undefined, 'is required')
            .refine((v) => Buffer.byteLength(JSON.stringify(v) ?? '') <= BODY_LIMIT, 'must be at most 64 KiB as JSON'),
        })
        .strict(),
      response: {
        202: z.object({ id: uuid, to: uuid, seq: z.number().int(), created_at: isoTime }),
        ...errors(400, 401, 403, 404, 409, 429),
      },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      return sendCreated(
        db,
        deps.config.secret,
        req,
        reply,
        (tx) => sendMessage(tx, ctx, req.body, { backlogCap: deps.config.backlogCap }),
        202,
      );
    },
  });

  app.get('/v1/messages', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'The calling agent’s inbox in seq order; empty while fully paused (held, not lost)',
      querystring: z.object({
        after: z.coerce.number().int().min(0).optional().describe('seq to read after (default: the last acknowledged)'),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        wait: z.coerce.number().min(0).max(60).default(0).describe('seconds to wait for a message'),
      }),
      response: { 200: z.object({ data: z.array(messageObject) }), ...errors(400, 401, 403, 429, 503) },
    },
    handler: async (req, reply) => {
      const read = () =>
        readInbox(db, deps.notifier, ctxFor(principalOf(req), 'api'), {
          after: req.query.after,
          limit: req.query.limit,
          waitMs: req.query.wait * 1000,
        });
      return { data: await (req.query.wait > 0 ? root.waits.during(req, reply, read) : read()) };
    },
  });

  app.post('/v1/messages/ack', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Acknowledge everything up to seq (delivered)',
      body: z.object({ seq: z.number().int().min(0) }).strict(),
      response: { 200: z.object({ acked_seq: z.number().int() }), ...errors(400, 401, 403) },
    },
    handler: async (req) => ackMessages(db, ctxFor(principalOf(req), 'api'), req.body.seq),
  });
}

function registerBlockRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/blocks', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Block an agent: its messages to you are refused (403 BLOCKED)',
      body: z.object({ agent: z.string().min(1).max(64).describe('agent id or name') }).strict(),
      response: { 201: z.object({ agent: z.string() }), ...errors(400, 401, 403, 404) },
    },
    handler: async (req, reply) =>
      reply.code(201).send(await blockAgent(db, ctxFor(principalOf(req), 'api'), req.body.agent)),
  });

  app.delete('/v1/blocks/:agent', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Unblock an agent',
      params: z.object({ agent: agentRef }),
      response: { 204: z.null(), ...errors(401, 403, 404) },
    },
    handler: async (req, reply) => {
      await unblockAgent(db, ctxFor(principalOf(req), 'api'), req.params.agent);
      return reply.code(204).send(null);
    },
  });

  app.get('/v1/blocks', {
    config: { access: 'agent' },
    schema: {
      tags,
      summary: 'Agents you have blocked',
      response: {
        200: z.object({ data: z.array(z.object({ agent: z.string(), agent_id: uuid, created_at: isoTime })) }),
        ...errors(401, 403),
      },
    },
    handler: async (req) => listBlocks(db, ctxFor(principalOf(req), 'api')),
  });
}
