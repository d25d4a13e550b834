// The worker against real Redis and a signed-request receiver on loopback: outbox → delivery → signed
// POST to the agent's delivery_url, retries with one webhook-id, and re-arming after Redis loses jobs.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { dispatchBatch } from '../jobs/dispatch-outbox.js';
import { useTestApp } from './support/app.js';
import { startReceiver, verifyStandardWebhook, type Receiver } from './support/receiver.js';
import { useWorkers } from './support/worker.js';

const t = useTestApp();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A worker with its own BullMQ prefix and a short retry schedule, stopped after the test. */
const workers = useWorkers(t);
const worker = (retryScheduleMs = [50, 50, 50]) => workers({ retryScheduleMs });

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

async function deliveries(agentId: string) {
  return t.deps.db.selectFrom('deliveries').selectAll().where('agent_id', '=', agentId).orderBy('id').execute();
}

async function outboxRows(agentId: string) {
  return t.deps.db.selectFrom('outbox').selectAll().where('agent_id', '=', agentId).orderBy('id').execute();
}

describe('outbox → delivery_url', () => {
  it('delivers agent.stop_requested signed per Standard Webhooks; the runtime confirms and the stop completes', async () => {
    await worker();
    const r = await receiver();
    const ws = await t.workspace();
    const a = await ws.agent('runtime', { delivery_url: `${r.url}/leash` });
    const secret: string = a.body.delivery_secret;
    // The runtime confirms the stop when told, as a real one would.
    r.respond = async (req) => {
      if (req.json?.type === 'agent.stop_requested') await t.call('POST', '/v1/agents/me/stopped', { key: a.key });
      return 204;
    };
    const res = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { timeout: 10_000 } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('inactive');

    const req = r.requests.find((x) => x.json?.type === 'agent.stop_requested')!;
    expect(req.path).toBe('/leash');
    expect(req.headers['content-type']).toBe('application/json');
    expect(verifyStandardWebhook(secret, req.headers, req.body)).toBe(true);
    expect(verifyStandardWebhook('whsec_' + randomBytes(24).toString('base64'), req.headers, req.body)).toBe(false);
    expect(req.json).toMatchObject({
      type: 'agent.stop_requested',
      data: { id: a.id, name: 'runtime', status: 'stopping' },
    });
    expect(Date.parse(req.json.timestamp)).not.toBeNaN();
    const [row] = await outboxRows(a.id);
    expect(req.headers['webhook-id']).toBe(row!.id);
    await expect.poll(async () => (await outboxRows(a.id)).every((o) => o.dispatched_at !== null)).toBe(true);
  });

  it('retries a failing receiver with the same webhook-id until it answers 2xx', async () => {
    await worker([30, 30, 30]);
    const r = await receiver();
    r.respond = (_req, n) => (n <= 2 ? 500 : 200);
    const ws = await t.workspace();
    const a = await ws.agent('flaky', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await expect.poll(() => r.requests.length, { timeout: 10_000 }).toBe(3);
    expect(new Set(r.requests.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(r.requests.every((x) => verifyStandardWebhook(a.body.delivery_secret, x.headers, x.body))).toBe(true);
    await expect.poll(async () => (await deliveries(a.id))[0]?.status).toBe('succeeded');
  });

  it('an agent’s runtime gets its events in order, even when an earlier one needs a retry', async () => {
    await worker([200, 200]);
    const r = await receiver();
    r.respond = (_req, n) => (n === 1 ? 500 : 200);
    const ws = await t.workspace();
    const a = await ws.agent('ordered', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await expect.poll(() => r.requests.length).toBe(4);
    expect(r.requests.map((x) => x.json.type)).toEqual([
      'agent.paused',
      'agent.paused',
      'agent.unpaused',
      'agent.paused',
    ]);
    expect(r.requests[3]!.json.data.pause.mode).toBe('full');
  });

  it('gives up after the last retry: the delivery is failed, with the last error, and not revived by a sweep', async () => {
    const { w } = await worker([10, 10]);
    const r = await receiver();
    r.respond = () => 503;
    const ws = await t.workspace();
    const a = await ws.agent('dead-end', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await expect.poll(async () => (await deliveries(a.id))[0]?.status).toBe('failed');
    const [d] = await deliveries(a.id);
    expect(d).toMatchObject({ attempts: 3, last_status: 503, last_error: 'receiver answered 503' });
    expect(r.requests).toHaveLength(3);
    await w.sweep();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.requests).toHaveLength(3);
  });

  it('events for an agent without a delivery_url are dispatched without a delivery', async () => {
    await worker();
    const ws = await t.workspace();
    const a = await ws.agent('quiet');
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await expect.poll(async () => (await outboxRows(a.id))[0]!.dispatched_at).not.toBeNull();
    expect(await deliveries(a.id)).toEqual([]);
  });

  it('after 10 s without events (the poll slows to every 250 ms), an event that sent no wake-up is still dispatched within that', async () => {
    await worker();
    const ws = await t.workspace();
    const a = await ws.agent('unwoken');
    await new Promise((r) => setTimeout(r, 10_500)); // the quiet spell
    const { sql } = await import('kysely');
    const { rows } = await sql<{ id: string }>`insert into outbox (id, workspace_id, agent_id, type, payload)
      values (gen_random_uuid(), ${ws.id}, ${a.id}, 'agent.paused', '{"data": {}}') returning id`.execute(t.deps.db);
    const id = rows[0]!.id;
    const t0 = Date.now();
    await expect
      .poll(
        async () =>
          (await t.deps.db.selectFrom('outbox').select('dispatched_at').where('id', '=', id).executeTakeFirstOrThrow())
            .dispatched_at,
        { interval: 10 },
      )
      .not.toBeNull();
    expect(Date.now() - t0).toBeLessThan(600);
  }, 20_000);

  it('fan-out is idempotent: re-running it after a crash (event not marked dispatched) creates no second delivery', async () => {
    const r = await receiver();
    const ws = await t.workspace();
    const a = await ws.agent('once', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const [row] = await outboxRows(a.id);
    const first = await dispatchBatch(t.deps);
    expect(first.deliveries.filter((d) => d.agent_id === a.id)).toHaveLength(1);
    // The crash: the dispatched mark is lost, the delivery row is not.
    await t.deps.db.updateTable('outbox').set({ dispatched_at: null }).where('id', '=', row!.id).execute();
    const again = await dispatchBatch(t.deps);
    expect(again.deliveries.filter((d) => d.agent_id === a.id)).toHaveLength(0);
    expect(await deliveries(a.id)).toHaveLength(1);
  });
});

describe('Postgres is the record, Redis a scheduler', () => {
  it('events committed while no worker runs are delivered when one starts', async () => {
    const r = await receiver();
    const ws = await t.workspace();
    const a = await ws.agent('backlog', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
    expect(r.requests).toHaveLength(0);
    await worker();
    await expect.poll(() => r.requests.map((x) => x.json.type)).toEqual(['agent.paused', 'agent.unpaused']);
  });

  it('a retry lost with Redis’s keys is re-armed from Postgres when the worker notices, keeping its webhook-id', async () => {
    const { w, forget } = await worker([60_000]);
    const r = await receiver();
    r.respond = () => 500; // the first attempt fails; the retry is a minute away
    const ws = await t.workspace();
    const a = await ws.agent('amnesia', { delivery_url: r.url });
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await expect.poll(() => r.requests.length).toBe(1);
    await expect.poll(async () => (await deliveries(a.id))[0]?.attempts).toBe(1);

    expect(await forget()).toBeGreaterThan(0); // Redis forgets everything of ours
    r.respond = () => 200;
    // The minute passes (in the record), and the worker finds Redis emptied.
    await t.deps.db
      .updateTable('deliveries')
      .set({ next_attempt_at: new Date() })
      .where('agent_id', '=', a.id)
      .execute();
    await w.checkRedis();
    await expect.poll(() => r.requests.length).toBe(2);
    expect(r.requests[1]!.headers['webhook-id']).toBe(r.requests[0]!.headers['webhook-id']);
    await expect.poll(async () => (await deliveries(a.id))[0]?.status).toBe('succeeded');
  });
});
