// Webhook endpoints (contract §3.6) and their deliveries. Sending is the worker's (jobs/deliver.ts);
// here: registering, listing, and asking for a redelivery.
import { randomBytes } from 'node:crypto';
import { record } from '../activity/timeline.js';
import { requireRole, type Ctx } from '../context.js';
import { inTransaction, isUuid, iso, newId, type Db } from '../db/index.js';
import { notify } from '../db/notifier.js';
import type { DeliveryRow, WebhookEndpointRow } from '../db/schema.js';
import { invalid, notFound } from '../errors.js';
import { targetProblem } from '../net/targets.js';
import { toPage, type Page, type PageParams } from '../pagination.js';
import type { WebhookEvent } from './events.js';

/** Wakes the worker to schedule deliveries that are due (a redelivery asked for by hand). */
export const DELIVERIES_KEY = 'deliveries';

export function endpointView(row: WebhookEndpointRow) {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    disabled_at: iso(row.disabled_at),
    disabled_reason: row.disabled_reason,
    created_at: row.created_at.toISOString(),
  };
}

export function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    last_status: row.last_status,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    delivered_at: iso(row.delivered_at),
  };
}

export async function createEndpoint(
  db: Db,
  ctx: Ctx,
  input: { url: string; events?: WebhookEvent[] | null },
  opts: { allowPrivateUrls: boolean },
): Promise<ReturnType<typeof endpointView> & { secret: string }> {
  requireRole(ctx, 'owner');
  const problem = await targetProblem(input.url, opts.allowPrivateUrls);
  if (problem) invalid([{ field: 'url', message: problem }]);
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  return inTransaction(db, async (tx) => {
    const row = await tx
      .insertInto('webhook_endpoints')
      .values({
        id: newId(),
        workspace_id: ctx.workspaceId,
        url: input.url,
        events: input.events ? [...new Set(input.events)] : null,
        secret,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await record(tx, ctx, { action: 'webhook.created', details: { webhook_id: row.id, url: row.url } });
    return { ...endpointView(row), secret };
  });
}

export async function findEndpoint(db: Db, workspaceId: string, id: string): Promise<WebhookEndpointRow> {
  if (!isUuid(id)) notFound(`Webhook endpoint ${id}`);
  const row = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) notFound(`Webhook endpoint ${id}`);
  return row;
}

export async function listEndpoints(db: Db, workspaceId: string) {
  const rows = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .execute();
  return { data: rows.map(endpointView) };
}

export async function deleteEndpoint(db: Db, ctx: Ctx, id: string): Promise<void> {
  requireRole(ctx, 'owner');
  await inTransaction(db, async (tx) => {
    const row = await findEndpoint(tx, ctx.workspaceId, id);
    await tx.updateTable('webhook_endpoints').set({ deleted_at: new Date() }).where('id', '=', row.id).execute();
    // Nothing more will be sent to it.
    await tx
      .updateTable('deliveries')
      .set({ status: 'failed', last_error: 'endpoint deleted', updated_at: new Date() })
      .where('endpoint_id', '=', row.id)
      .where('status', '=', 'pending')
      .execute();
    await record(tx, ctx, { action: 'webhook.deleted', details: { webhook_id: row.id, url: row.url } });
  });
}

/** Every live endpoint, oldest first, with its latest failed deliveries (the dashboard's page).
 *  Owners only, as in the API: endpoint URLs often carry tokens. */
export async function endpointsWithFailures(db: Db, ctx: Ctx, failedLimit = 20) {
  requireRole(ctx, 'owner');
  const endpoints = await db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', ctx.workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .execute();
  const out = [];
  for (const e of endpoints) {
    const failed = await db
      .selectFrom('deliveries')
      .select(['id', 'event_type', 'attempts', 'last_error', 'updated_at'])
      .where('endpoint_id', '=', e.id)
      .where('status', '=', 'failed')
      .orderBy('id', 'desc')
      .limit(failedLimit)
      .execute();
    out.push({ id: e.id, url: e.url, events: e.events, disabled: e.disabled_reason, failed });
  }
  return out;
}

/** Newest first. */
export async function listDeliveries(
  db: Db,
  workspaceId: string,
  endpointId: string,
  filter: { status?: DeliveryRow['status'] },
  page: PageParams,
): Promise<Page<ReturnType<typeof deliveryView>>> {
  const endpoint = await findEndpoint(db, workspaceId, endpointId);
  let q = db.selectFrom('deliveries').selectAll().where('endpoint_id', '=', endpoint.id);
  if (filter.status) q = q.where('status', '=', filter.status);
  if (page.cursor) q = q.where('id', '<', page.cursor);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  return toPage(rows, page.limit, deliveryView);
}

/** Sends a delivery again now, with a fresh round of retries (any status; same webhook-id). A
 *  disabled endpoint stays disabled for new events but gets what is redelivered by hand. */
export async function redeliver(db: Db, ctx: Ctx, endpointId: string, deliveryId: string) {
  requireRole(ctx, 'owner');
  return inTransaction(db, async (tx) => {
    const endpoint = await findEndpoint(tx, ctx.workspaceId, endpointId);
    if (!isUuid(deliveryId)) notFound(`Delivery ${deliveryId}`);
    const row = await tx
      .updateTable('deliveries')
      .set({ status: 'pending', attempts: 0, next_attempt_at: new Date(), last_error: null, updated_at: new Date() })
      .where('id', '=', deliveryId)
      .where('endpoint_id', '=', endpoint.id)
      .returningAll()
      .executeTakeFirst();
    if (!row) notFound(`Delivery ${deliveryId}`);
    await record(tx, ctx, {
      action: 'webhook.redelivered',
      details: { webhook_id: endpoint.id, delivery_id: row.id, event_type: row.event_type },
    });
    await notify(tx, DELIVERIES_KEY);
    return deliveryView(row);
  });
}
