// /v1/webhooks: the workspace's webhook endpoints and their deliveries (owner only).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ctxFor } from '../../auth/principal.js';
import type { Deps } from '../../deps.js';
import { pageQuery } from '../../pagination.js';
import { WEBHOOK_EVENTS } from '../../webhooks/events.js';
import {
  createEndpoint,
  deleteEndpoint,
  endpointView,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  redeliver,
} from '../../webhooks/endpoints.js';
import { principalOf } from '../auth.js';
import { sendCreated } from '../idempotency.js';
import { errors, isoTime, page, uuid } from '../schemas.js';

const endpointObject = z
  .object({
    id: uuid,
    url: z.string(),
    events: z.array(z.string()).nullable().describe('null: every event'),
    disabled_at: isoTime.nullable(),
    disabled_reason: z.string().nullable(),
    created_at: isoTime,
  })
  .meta({ id: 'WebhookEndpoint' });

const deliveryObject = z
  .object({
    id: uuid,
    event_id: uuid.describe('also the webhook-id header, the same on every attempt'),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    next_attempt_at: isoTime.nullable(),
    last_status: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: isoTime,
    delivered_at: isoTime.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

const tags = ['webhooks'];
const params = z.object({ id: uuid });

export function registerWebhookRoutes(root: FastifyInstance, deps: Deps) {
  registerEndpointRoutes(root, deps);
  registerDeliveryRoutes(root, deps);
}

function registerEndpointRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.post('/v1/webhooks', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Register a webhook endpoint; returns its signing secret once',
      body: z
        .object({
          url: z.string().min(1).max(2048),
          events: z
            .array(z.enum(WEBHOOK_EVENTS))
            .min(1, 'must list at least one event (or be null for every event)')
            .max(WEBHOOK_EVENTS.length)
            .nullable()
            .optional(),
        })
        .strict(),
      response: {
        201: endpointObject.extend({ secret: z.string().describe('whsec_…, shown once') }),
        ...errors(400, 401, 403, 409),
      },
    },
    handler: async (req, reply) => {
      const ctx = ctxFor(principalOf(req), 'api');
      return sendCreated(db, deps.config.secret, req, reply, (tx) =>
        createEndpoint(tx, ctx, req.body, { allowPrivateUrls: deps.config.allowPrivateUrls }),
      );
    },
  });

  app.get('/v1/webhooks', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'List webhook endpoints',
      response: { 200: z.object({ data: z.array(endpointObject) }), ...errors(401, 403) },
    },
    handler: async (req) => listEndpoints(db, principalOf(req).workspaceId),
  });

  app.get('/v1/webhooks/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Get a webhook endpoint',
      params,
      response: { 200: endpointObject, ...errors(400, 401, 403, 404) },
    },
    handler: async (req) => endpointView(await findEndpoint(db, principalOf(req).workspaceId, req.params.id)),
  });

  app.delete('/v1/webhooks/:id', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Delete a webhook endpoint (pending deliveries are dropped)',
      params,
      response: { 204: z.null(), ...errors(400, 401, 403, 404) },
    },
    handler: async (req, reply) => {
      await deleteEndpoint(db, ctxFor(principalOf(req), 'api'), req.params.id);
      return reply.code(204).send(null);
    },
  });
}

function registerDeliveryRoutes(root: FastifyInstance, deps: Deps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  app.get('/v1/webhooks/:id/deliveries', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'An endpoint’s deliveries, newest first',
      params,
      querystring: z.object({ ...pageQuery, status: z.enum(['pending', 'succeeded', 'failed']).optional() }),
      response: { 200: page(deliveryObject), ...errors(400, 401, 403, 404) },
    },
    handler: async (req) =>
      listDeliveries(db, principalOf(req).workspaceId, req.params.id, { status: req.query.status }, req.query),
  });

  app.post('/v1/webhooks/:id/deliveries/:delivery_id/redeliver', {
    config: { access: 'owner' },
    schema: {
      tags,
      summary: 'Send a delivery again now, with a fresh round of retries',
      params: z.object({ id: uuid, delivery_id: uuid }),
      body: z.object({}).strict(),
      response: { 200: deliveryObject, ...errors(400, 401, 403, 404) },
    },
    handler: async (req) => redeliver(db, ctxFor(principalOf(req), 'api'), req.params.id, req.params.delivery_id),
  });
}
