// Webhook endpoints (contract §3.6) and outbound webhooks (§5), end to end: the API registers
// endpoints, real events go through the outbox and a real worker (own BullMQ prefix per test), and a
// loopback receiver checks every request with a hand-written Standard Webhooks verifier.
import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { attemptDelivery, recordSuccesses } from '../jobs/deliver.js';
import type { RunningWorker } from '../jobs/worker.js';
import { useTestApp, type Workspace } from './support/app.js';
import { startReceiver, verifyStandardWebhook, type Receiver } from './support/receiver.js';
import { startTestWorker } from './support/worker.js';

const t = useTestApp();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  // Nothing a test left pending may be re-armed by the next test's worker (its receivers are gone).
  await t.deps.db.updateTable('deliveries').set({ status: 'failed' }).where('status', '=', 'pending').execute();
});

/** A worker with its own BullMQ prefix and a short retry schedule, stopped after the test. */
async function worker(retryScheduleMs = [50, 50, 50]): Promise<RunningWorker> {
  const tw = await startTestWorker(t, { retryScheduleMs });
  cleanups.push(() => tw.stop());
  return tw.w;
}

async function receiver(respond?: Receiver['respond']): Promise<Receiver> {
  const r = await startReceiver();
  if (respond) r.respond = respond;
  cleanups.push(() => r.close());
  return r;
}

async function endpoint(ws: Workspace, r: Receiver, events?: string[] | null) {
  const res = await t.call('POST', '/v1/webhooks', {
    key: ws.ownerKey,
    body: { url: `${r.url}/hook`, ...(events !== undefined ? { events } : {}) },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; events: string[] | null };
}

const pause = (ws: Workspace, id: string) =>
  t.call('POST', `/v1/agents/${id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
const unpause = (ws: Workspace, id: string) => t.call('POST', `/v1/agents/${id}/unpause`, { key: ws.ownerKey });
const types = (r: Receiver) => r.requests.map((x) => x.json?.type);
const deliveries = async (ws: Workspace, endpointId: string, query = '') =>
  (await t.call('GET', `/v1/webhooks/${endpointId}/deliveries${query}`, { key: ws.ownerKey })).body;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('registering endpoints', () => {
  it('creates an endpoint and shows its whsec_ secret only once', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: 'https://example.com/hooks', events: ['agent.paused'] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      url: 'https://example.com/hooks',
      events: ['agent.paused'],
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/=]{20,}$/),
      disabled_at: null,
      disabled_reason: null,
      created_at: expect.any(String),
    });
    expect(Date.parse(res.body.created_at)).not.toBeNaN();
    const one = await t.call('GET', `/v1/webhooks/${res.body.id}`, { key: ws.ownerKey });
    const list = await t.call('GET', '/v1/webhooks', { key: ws.ownerKey });
    const { secret, ...shown } = res.body;
    expect(one.body).toEqual(shown);
    expect(list.body.data).toEqual([shown]);
    for (const body of [one.body, list.body]) expect(JSON.stringify(body)).not.toContain(secret.slice(6));
  });

  it.each([
    [{ url: 'not a url' }, 'url'],
    [{ url: 'ftp://example.com/x' }, 'url'],
    [{ url: 'https://example.com', events: ['agent.exploded'] }, 'events'],
    [{ url: 'https://example.com', events: ['agent.paused', 42] }, 'events'],
    [{ url: 'https://user:pw@example.com' }, 'url'],
    [{ url: 'https://example.com', colour: 'red' }, 'colour'],
    [{}, 'url'],
  ])('refuses %j with 400 naming %s, and creates nothing', async (body, field) => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain(field);
    expect((await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data).toEqual([]);
  });

  it('refuses a non-array events with one plain message', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: 'https://example.com', events: 'agent.paused' },
    });
    expect(res.status).toBe(400);
    // zod also runs the array's max() on a string; only the first problem per field is reported.
    expect(res.body.error.fields).toEqual([{ field: 'events', message: 'must be an array' }]);
  });

  it('does not turn an explicit empty events list into a subscription to every event', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: 'https://example.com', events: [] },
    });
    // An empty list must not silently mean "every event": it is refused, and nothing is created.
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'invalid_request',
      message: 'events: must list at least one event (or be null for every event)',
    });
    expect((await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data).toEqual([]);
  });

  it('honours Idempotency-Key: same body replays the same endpoint, a different body is 409', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': `wh-${randomBytes(4).toString('hex')}` };
    const body = { url: 'https://example.com/once' };
    const first = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body, headers });
    const again = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body, headers });
    expect(first.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const other = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: 'https://example.com/other' },
      headers,
    });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect((await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data).toHaveLength(1);
  });

  it('is for owners only: approver, viewer and agent keys get 403 and create nothing', async () => {
    const ws = await t.workspace();
    const keys = [(await ws.member('approver')).key, (await ws.member('viewer')).key, (await ws.agent('bot')).key];
    for (const key of keys) {
      expect((await t.call('POST', '/v1/webhooks', { key, body: { url: 'https://example.com/x' } })).status).toBe(403);
      expect((await t.call('GET', '/v1/webhooks', { key })).status).toBe(403);
    }
    expect((await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data).toEqual([]);
  });
});

describe('delivering events', () => {
  it('POSTs {type, timestamp, data} signed per Standard Webhooks, webhook-id = event_id; approvals carry metadata unchanged', async () => {
    const r = await receiver();
    await worker();
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const a = await ws.agent('asker');
    const metadata = { ticket: 'T-1', nested: { list: [1, 'two', null], ok: true }, note: 'héllo ✓' };
    const asked = await t.call('POST', '/v1/pause', {
      key: a.key,
      body: {
        recipient: 'a@example.com',
        channel: 'web',
        message: 'ok?',
        options: ['yes', 'no'],
        timeout_seconds: 60,
        metadata,
      },
    });
    expect(asked.status, JSON.stringify(asked.body)).toBe(201);
    const decided = await t.call('POST', `/v1/pause/${asked.body.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'yes' },
    });
    expect(decided.status).toBe(200);

    await expect.poll(() => types(r)).toContain('pause_request.responded');
    const req = r.requests.find((x) => x.json?.type === 'pause_request.responded')!;
    expect(req.path).toBe('/hook');
    expect(verifyStandardWebhook(hook.secret, req.headers, req.body)).toBe(true);
    expect(verifyStandardWebhook(`whsec_${randomBytes(24).toString('base64')}`, req.headers, req.body)).toBe(false);
    expect(Object.keys(req.json).sort()).toEqual(['data', 'timestamp', 'type']);
    expect(Date.parse(req.json.timestamp)).not.toBeNaN();
    expect(req.json.data).toEqual(decided.body);
    expect(req.json.data).toMatchObject({ pause_id: asked.body.pause_id, status: 'responded', response_choice: 'yes' });
    expect(req.json.data.metadata).toEqual(metadata);

    const again = await t.call('POST', '/v1/pause', {
      key: a.key,
      body: {
        recipient: 'a@example.com',
        channel: 'web',
        message: 'still ok?',
        options: ['yes', 'no'],
        timeout_seconds: 60,
        metadata,
      },
    });
    const cancelled = await t.call('POST', `/v1/pause/${again.body.pause_id}/cancel`, { key: ws.ownerKey });
    expect(cancelled.status).toBe(200);
    await expect.poll(() => types(r)).toEqual(['pause_request.responded', 'pause_request.cancelled']); // internal events stay inside
    const cancel = r.requests[1]!;
    expect(verifyStandardWebhook(hook.secret, cancel.headers, cancel.body)).toBe(true);
    expect(cancel.json.data).toMatchObject({ pause_id: again.body.pause_id, status: 'cancelled', metadata });
    expect(cancel.headers['webhook-id']).not.toBe(req.headers['webhook-id']);

    await expect
      .poll(async () => (await deliveries(ws, hook.id)).data?.map((x: { status: string }) => x.status))
      .toEqual(['succeeded', 'succeeded']);
    const d = (await deliveries(ws, hook.id)).data.at(-1);
    expect(d).toMatchObject({
      event_type: 'pause_request.responded',
      attempts: 1,
      last_status: 200,
      next_attempt_at: null,
    });
    expect(req.headers['webhook-id']).toBe(d.event_id);
  });

  it('sends an endpoint only the events it subscribed to; events null or omitted means all', async () => {
    const [only, omitted, nulled] = [await receiver(), await receiver(), await receiver()];
    await worker();
    const ws = await t.workspace();
    expect((await endpoint(ws, only, ['agent.paused'])).events).toEqual(['agent.paused']);
    expect((await endpoint(ws, omitted)).events).toBeNull();
    expect((await endpoint(ws, nulled, null)).events).toBeNull();
    const a = await ws.agent('filtered');
    await pause(ws, a.id);
    await unpause(ws, a.id);
    for (const r of [omitted, nulled])
      await expect.poll(() => types(r).sort()).toEqual(['agent.paused', 'agent.unpaused']);
    await expect.poll(() => types(only)).toEqual(['agent.paused']);
    await sleep(100);
    expect(types(only)).toEqual(['agent.paused']);
  });

  it('keeps workspaces apart: B’s endpoint gets none of A’s events, and B’s owner cannot see A’s endpoint (404)', async () => {
    const [ra, rb] = [await receiver(), await receiver()];
    await worker();
    const [wsA, wsB] = [await t.workspace('A'), await t.workspace('B')];
    const hookA = await endpoint(wsA, ra);
    const hookB = await endpoint(wsB, rb);
    const a = await wsA.agent('alpha');
    await pause(wsA, a.id);
    await expect.poll(async () => (await deliveries(wsA, hookA.id)).data?.[0]?.status).toBe('succeeded');
    // A's fan-out (one transaction for every endpoint) is done: B got nothing.
    expect(rb.requests).toEqual([]);
    expect((await deliveries(wsB, hookB.id)).data).toEqual([]);

    const deliveryId = (await deliveries(wsA, hookA.id)).data[0].id;
    const key = wsB.ownerKey;
    expect((await t.call('GET', `/v1/webhooks/${hookA.id}`, { key })).status).toBe(404);
    expect((await t.call('GET', `/v1/webhooks/${hookA.id}/deliveries`, { key })).status).toBe(404);
    expect(
      (await t.call('POST', `/v1/webhooks/${hookA.id}/deliveries/${deliveryId}/redeliver`, { key, body: {} })).status,
    ).toBe(404);
    expect(
      (await t.call('POST', `/v1/webhooks/${hookB.id}/deliveries/${deliveryId}/redeliver`, { key, body: {} })).status,
    ).toBe(404);
    expect((await t.call('DELETE', `/v1/webhooks/${hookA.id}`, { key })).status).toBe(404);
    expect((await t.call('GET', '/v1/webhooks', { key })).body.data.map((e: { id: string }) => e.id)).toEqual([
      hookB.id,
    ]);
    expect((await t.call('GET', `/v1/webhooks/${hookA.id}`, { key: wsA.ownerKey })).status).toBe(200);
    expect(ra.requests).toHaveLength(1);
  });
});

describe('retries, failure and redelivery', () => {
  it('retries a failing endpoint with the same webhook-id until it answers 2xx', async () => {
    const r = await receiver((_req, n) => (n <= 2 ? 500 : 200));
    await worker([50, 50, 50]);
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const a = await ws.agent('flaky');
    await pause(ws, a.id);
    await expect.poll(async () => (await deliveries(ws, hook.id)).data?.[0]?.status).toBe('succeeded');
    expect(r.requests).toHaveLength(3);
    expect(new Set(r.requests.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(r.requests.every((x) => verifyStandardWebhook(hook.secret, x.headers, x.body))).toBe(true);
    const [d] = (await deliveries(ws, hook.id)).data;
    expect(d).toMatchObject({
      status: 'succeeded',
      attempts: 3,
      last_status: 200,
      last_error: null,
      event_id: r.requests[0]!.headers['webhook-id'],
    });
    expect(d.delivered_at).not.toBeNull();
  });

  it('marks a delivery failed after the last retry; redeliver sends it again with the same webhook-id', async () => {
    const r = await receiver(() => 500);
    await worker([30, 30]);
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const a = await ws.agent('down');
    await pause(ws, a.id);
    await expect.poll(async () => (await deliveries(ws, hook.id)).data?.[0]?.status).toBe('failed');
    const [failed] = (await deliveries(ws, hook.id)).data;
    expect(failed).toMatchObject({
      attempts: 3,
      last_status: 500,
      last_error: expect.stringContaining('500'),
      next_attempt_at: null,
    });
    expect(r.requests).toHaveLength(3);

    r.respond = () => 200;
    const res = await t.call('POST', `/v1/webhooks/${hook.id}/deliveries/${failed.id}/redeliver`, {
      key: ws.ownerKey,
      body: {},
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: failed.id, event_id: failed.event_id, status: 'pending' });
    await expect.poll(() => r.requests.length).toBe(4);
    expect(r.requests[3]!.headers['webhook-id']).toBe(failed.event_id);
    expect(verifyStandardWebhook(hook.secret, r.requests[3]!.headers, r.requests[3]!.body)).toBe(true);
    await expect.poll(async () => (await deliveries(ws, hook.id)).data?.[0]?.status).toBe('succeeded');
  });

  it('disables an endpoint that answers 410: that delivery fails, later events create no deliveries for it', async () => {
    const gone = await receiver(() => 410);
    const witness = await receiver();
    await worker();
    const ws = await t.workspace();
    const hook = await endpoint(ws, gone);
    await endpoint(ws, witness);
    const a = await ws.agent('gone');
    await pause(ws, a.id);
    await expect
      .poll(async () => (await t.call('GET', `/v1/webhooks/${hook.id}`, { key: ws.ownerKey })).body.disabled_at)
      .not.toBeNull();
    const shown = await t.call('GET', `/v1/webhooks/${hook.id}`, { key: ws.ownerKey });
    expect(Date.parse(shown.body.disabled_at)).not.toBeNaN();
    expect(shown.body.disabled_reason).toMatch(/410/);
    await expect
      .poll(async () => (await deliveries(ws, hook.id)).data)
      .toMatchObject([{ status: 'failed', last_status: 410, attempts: 1 }]);
    expect(gone.requests).toHaveLength(1);

    await unpause(ws, a.id);
    await expect.poll(() => types(witness)).toContain('agent.unpaused');
    expect((await deliveries(ws, hook.id)).data).toHaveLength(1);
    expect(gone.requests).toHaveLength(1);
  });

  it('deleting an endpoint: 204, its pending deliveries become failed, new events create none', async () => {
    const doomed = await receiver(() => 500);
    const witness = await receiver();
    await worker([60_000]); // after the first failure the retry is a minute away: the delivery stays pending
    const ws = await t.workspace();
    const hook = await endpoint(ws, doomed);
    await endpoint(ws, witness);
    const a = await ws.agent('doomed');
    await pause(ws, a.id);
    await expect
      .poll(async () => (await deliveries(ws, hook.id)).data?.[0])
      .toMatchObject({ status: 'pending', attempts: 1 });

    const del = await t.call('DELETE', `/v1/webhooks/${hook.id}`, { key: ws.ownerKey });
    expect(del.status).toBe(204);
    expect((await t.call('GET', `/v1/webhooks/${hook.id}`, { key: ws.ownerKey })).status).toBe(404);
    expect(
      (await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data.map((e: { id: string }) => e.id),
    ).not.toContain(hook.id);
    expect((await t.call('DELETE', `/v1/webhooks/${hook.id}`, { key: ws.ownerKey })).status).toBe(404);
    // Its deliveries are no longer reachable through the API: read the record.
    const rows = () => t.deps.db.selectFrom('deliveries').selectAll().where('endpoint_id', '=', hook.id).execute();
    expect(await rows()).toMatchObject([{ status: 'failed' }]);

    await unpause(ws, a.id);
    await expect.poll(() => types(witness)).toContain('agent.unpaused');
    expect(await rows()).toHaveLength(1);
    expect(doomed.requests).toHaveLength(1);
  });
});

describe('the deliveries list', () => {
  it('is newest first, filters by ?status, and pages with limit and cursor', async () => {
    const r = await receiver((req) => (req.json?.type === 'agent.unpaused' ? 500 : 200));
    await worker([]); // no retries: a failure is final at once
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const a = await ws.agent('listed');
    // One event at a time, so delivery order is event order.
    for (const [i, step] of [pause, unpause, pause, unpause].entries()) {
      await step(ws, a.id);
      await expect.poll(() => r.requests.length).toBe(i + 1);
    }
    await expect
      .poll(async () => (await deliveries(ws, hook.id)).data.filter((d: { status: string }) => d.status === 'pending'))
      .toEqual([]);

    const all = await deliveries(ws, hook.id);
    expect(all.data.map((d: { event_type: string }) => d.event_type)).toEqual([
      'agent.unpaused',
      'agent.paused',
      'agent.unpaused',
      'agent.paused',
    ]);
    expect(all.data.map((d: { status: string }) => d.status)).toEqual(['failed', 'succeeded', 'failed', 'succeeded']);
    const created = all.data.map((d: { created_at: string }) => Date.parse(d.created_at));
    expect([...created].sort((x, y) => y - x)).toEqual(created);
    // Ids are UUIDv7 (made by Postgres in the fan-out): the cursor's order is creation order.
    for (const d of all.data as { id: string; created_at: string }[]) {
      expect(d.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Math.abs(parseInt(d.id.replace(/-/g, '').slice(0, 12), 16) - Date.parse(d.created_at))).toBeLessThan(
        1_000,
      );
    }
    expect(all.next_cursor).toBeNull();

    const failed = await deliveries(ws, hook.id, '?status=failed');
    expect(failed.data.map((d: { id: string }) => d.id)).toEqual([all.data[0].id, all.data[2].id]);
    expect(failed.data.every((d: { last_status: number }) => d.last_status === 500)).toBe(true);
    expect((await deliveries(ws, hook.id, '?status=succeeded')).data).toHaveLength(2);

    const first = await deliveries(ws, hook.id, '?limit=3');
    expect(first.data).toHaveLength(3);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = await deliveries(ws, hook.id, `?limit=3&cursor=${first.next_cursor}`);
    expect(second.next_cursor).toBeNull();
    expect([...first.data, ...second.data].map((d: { id: string }) => d.id)).toEqual(
      all.data.map((d: { id: string }) => d.id),
    );

    expect((await t.call('GET', `/v1/webhooks/${hook.id}/deliveries?status=lost`, { key: ws.ownerKey })).status).toBe(
      400,
    );
    expect((await t.call('GET', `/v1/webhooks/${randomUUID()}/deliveries`, { key: ws.ownerKey })).status).toBe(404);
  });
});

describe('recording successes', () => {
  it('finds each delivery by id, however many are pending since statistics were last taken', async () => {
    const r = await receiver();
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const db = t.deps.db;
    // Statistics from a quiet moment, then a burst: 3,000 pending before autovacuum looks again.
    await sql`analyze deliveries`.execute(db);
    const burst = await sql<{ id: string }>`
      insert into deliveries (id, workspace_id, event_id, event_type, endpoint_id)
      select gen_random_uuid(), ${ws.id}, gen_random_uuid(), 'agent.paused', ${hook.id} from generate_series(1, 3000)
      returning id`.execute(db);
    const done = burst.rows.slice(0, 9).map((row, i) => ({ id: row.id, attempts: 1, status: 200 + i }));
    const plan = (await sql<{ 'QUERY PLAN': string }>`explain ${recordSuccesses(done)}`.execute(db)).rows
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    expect(plan).toContain('deliveries_pkey');
    expect(plan).not.toContain('deliveries_pending_idx');

    // One of them settled meanwhile (failed): it stays as it is.
    await db.updateTable('deliveries').set({ status: 'failed' }).where('id', '=', done[8]!.id).execute();
    await recordSuccesses(done).execute(db);
    const rows = await db
      .selectFrom('deliveries')
      .select(['id', 'status', 'attempts', 'last_status'])
      .where(
        'id',
        'in',
        done.map((d) => d.id),
      )
      .execute();
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(done.slice(0, 8).map((d) => byId.get(d.id))).toEqual(
      done.slice(0, 8).map((d) => ({ id: d.id, status: 'succeeded', attempts: 1, last_status: d.status })),
    );
    expect(byId.get(done[8]!.id)).toMatchObject({ status: 'failed', attempts: 0, last_status: null });
    const pending = await db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('status', '=', 'pending')
      .where('endpoint_id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(Number(pending.n)).toBe(3000 - 9);
  });
});

describe('attempts that start together', () => {
  it('each get their own delivery from the read they share; a settled one and an unknown id are skipped', async () => {
    const r = await receiver();
    const ws = await t.workspace();
    const hook = await endpoint(ws, r);
    const db = t.deps.db;
    const event = await sql<{ id: string }>`
      insert into outbox (id, workspace_id, type, payload, dispatched_at)
      values (gen_random_uuid(), ${ws.id}, 'agent.paused', ${JSON.stringify({ type: 'agent.paused', timestamp: new Date().toISOString(), data: { n: 1 } })}::jsonb, now())
      returning id`.execute(db);
    const eventId = event.rows[0]!.id;
    const [due, settled] = [randomUUID(), randomUUID()];
    await db
      .insertInto('deliveries')
      .values([
        { id: due, workspace_id: ws.id, event_id: eventId, event_type: 'agent.paused', endpoint_id: hook.id },
        {
          id: settled,
          workspace_id: ws.id,
          event_id: randomUUID(),
          event_type: 'agent.paused',
          endpoint_id: hook.id,
          status: 'succeeded',
        },
      ])
      .execute();
    const outcomes = await Promise.all([due, settled, randomUUID()].map((id) => attemptDelivery(t.deps, id)));
    expect(outcomes.map((o) => o.outcome)).toEqual(['succeeded', 'skipped', 'skipped']);
    expect(r.requests.map((x) => x.json)).toEqual([
      { type: 'agent.paused', timestamp: expect.any(String), data: { n: 1 } },
    ]);
    await expect
      .poll(
        async () =>
          (await db.selectFrom('deliveries').select('status').where('id', '=', due).executeTakeFirstOrThrow()).status,
      )
      .toBe('succeeded');
  });
});

describe('isolation between endpoints', () => {
  it('a slow endpoint does not delay a fast one in the same workspace', async () => {
    let slowDone = 0;
    const slow = await receiver(async () => {
      await sleep(1_500);
      slowDone++;
      return 200;
    });
    const fast = await receiver();
    const ws = await t.workspace();
    await endpoint(ws, slow);
    await endpoint(ws, fast);
    const a = await ws.agent('busy');
    for (let i = 0; i < 5; i++) {
      await pause(ws, a.id);
      await unpause(ws, a.id);
    }
    await worker(); // all ten events are fanned out at once when it starts
    // Ten slow deliveries take 15 s back to back; the fast endpoint must not queue behind them.
    await expect.poll(() => fast.requests.length, { timeout: 3_000 }).toBe(10);
    expect(slowDone).toBeLessThanOrEqual(4);
    expect(slow.requests.length).toBeLessThan(10);
    // The slow endpoint still gets everything, in the end.
    await expect.poll(() => slowDone, { timeout: 15_000 }).toBe(10);
  }, 25_000);
});
