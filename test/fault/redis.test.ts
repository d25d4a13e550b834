// Redis is only a scheduler: it may be flushed, restarted empty, or be away for a minute, and
// nothing is lost or late for long. Runs against a private Redis server (the shared one serves
// every other test file), with a real worker and a real webhook receiver and delivery_url.
import { Queue } from 'bullmq';
import { beforeAll, afterAll, afterEach, describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startTestWorker, type TestWorker } from '../support/worker.js';
import { privateRedis, type PrivateRedis } from './support/services.js';

/** How long Redis stays away in the outage test: the 60 s; shorter for a quick local run, but
 *  at least 10 s, so some approvals are past due by the sweep's margin while it is away. */
const DOWN_MS = Math.max(10_000, Number(process.env.FAULT_REDIS_DOWN_MS ?? 60_000));

let redis: PrivateRedis;
const env: Record<string, string> = {};
beforeAll(async () => {
  redis = await privateRedis();
  env.REDIS_URL = redis.url;
});
afterAll(async () => redis?.close());
const t = useTestApp(env);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await redis.ensureRunning();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

async function worker(): Promise<TestWorker> {
  // Timers and retries short enough for a test; the sweep every second, as a busy deployment's would.
  const w = await startTestWorker(t, { retryScheduleMs: [3_000, 1_000, 1_000], sweepIntervalMs: 1_000 });
  cleanups.push(async () => {
    await w.w.close();
  });
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A workspace with a webhook endpoint (every event) and an agent that asks. */
async function setup(hooks: Receiver) {
  const ws = await t.workspace();
  const res = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body: { url: `${hooks.url}/hook` } });
  expect(res.status).toBe(201);
  const asker = await ws.agent(`asker-${Date.now()}`);
  return { ws, asker };
}

async function ask(asker: { key: string }, timeoutSeconds: number): Promise<string> {
  const res = await t.call('POST', '/v1/pause', {
    key: asker.key,
    body: {
      recipient: 'a@example.com',
      channel: 'web',
      message: 'Ship it?',
      options: ['Yes', 'No'],
      timeout_seconds: timeoutSeconds,
      timeout_default: 'No',
    },
  });
  expect(res.status).toBe(201);
  return res.body.pause_id;
}

async function approvals(ids: string[]) {
  return t.deps.db
    .selectFrom('approvals')
    .select(['id', 'status', 'expires_at', 'response_at', 'via_timeout', 'response_choice'])
    .where('id', 'in', ids)
    .execute();
}

async function timersHeld(prefix: string, ids: string[]): Promise<number> {
  const q = new Queue('timers', { connection: { url: redis.url }, prefix });
  try {
    const jobs = await Promise.all(ids.map((id) => q.getJob(`expire.${id}`)));
    return jobs.filter(Boolean).length;
  } finally {
    await q.close();
  }
}

async function pendingDeliveries(ws: Workspace): Promise<number> {
  const row = await t.deps.db
    .selectFrom('deliveries')
    .innerJoin('webhook_endpoints as e', 'e.id', 'deliveries.endpoint_id')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('e.workspace_id', '=', ws.id)
    .where('deliveries.status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe.each([
  ['FLUSHALL', () => redis.flushall()],
  [
    'a restart with no persistence',
    async () => {
      await redis.kill();
      await sleep(500);
      await redis.start();
    },
  ],
])('Redis loses everything (%s)', (_name, fault) => {
  it('every timer and delivery is re-armed from Postgres within 10 s, and no timeout is missed', async () => {
    const hooks = await receiver();
    hooks.respond = () => 503; // deliveries wait in Redis for their retry when the fault hits
    const { ws, asker } = await setup(hooks);
    const w = await worker();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await ask(asker, 4 + (i % 5)));
    // Some events to deliver: a pause and an unpause of the asker.
    expect(
      (await t.call('POST', `/v1/agents/${asker.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } })).status,
    ).toBe(200);
    expect((await t.call('POST', `/v1/agents/${asker.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
    await expect.poll(() => timersHeld(w.prefix, ids)).toBe(ids.length);
    await expect.poll(() => hooks.requests.length).toBeGreaterThanOrEqual(2);

    const hit = Date.now();
    await fault();
    hooks.respond = () => 200;
    // Re-armed: every pending approval has its timer again.
    await expect.poll(() => timersHeld(w.prefix, ids), { timeout: 10_000, interval: 100 }).toBe(ids.length);
    const rearmedMs = Date.now() - hit;
    expect(rearmedMs).toBeLessThan(10_000);
    await expect.poll(() => pendingDeliveries(ws), { timeout: 10_000 }).toBe(0);

    // No missed timeout: each one timed out once, close to its deadline.
    await expect
      .poll(async () => (await approvals(ids)).filter((a) => a.status === 'timed_out').length, { timeout: 15_000 })
      .toBe(ids.length);
    for (const a of await approvals(ids)) {
      expect(a.via_timeout).toBe(true);
      expect(a.response_choice).toBe('No');
      expect(a.response_at!.getTime() - a.expires_at.getTime()).toBeLessThan(2_000);
    }
    const timeouts = await t.deps.db
      .selectFrom('activity')
      .select('id')
      .where('agent_id', '=', asker.id)
      .where('action', '=', 'approval.timed_out')
      .execute();
    expect(timeouts.length).toBe(ids.length);
  }, 40_000);
});

describe('Redis away', () => {
  it(
    `for ${DOWN_MS / 1000} s: the API keeps accepting approvals and messages, timeouts still fire, and everything queued is delivered after`,
    async () => {
      const hooks = await receiver();
      const inbox = await receiver();
      const { ws, asker } = await setup(hooks);
      const reader = await ws.agent(`reader-${Date.now()}`, { delivery_url: `${inbox.url}/inbox` });
      await worker();

      await redis.kill();
      const downAt = Date.now();
      const asked: string[] = [];
      let sent = 0;
      while (Date.now() - downAt < DOWN_MS) {
        asked.push(await ask(asker, 2));
        const res = await t.call('POST', '/v1/messages', {
          key: asker.key,
          body: { to: reader.id, body: { n: ++sent } },
        });
        expect(res.status).toBe(202);
        expect(res.body.seq).toBe(sent);
        await sleep(250);
      }
      // Timeouts do not wait for Redis: the sweep times out, from Postgres alone, what is past due by
      // its margin (5 s) plus a sweep interval.
      const overdue = (await approvals(asked)).filter((a) => a.expires_at.getTime() < Date.now() - 7_000);
      expect(overdue.length).toBeGreaterThan(0);
      expect(overdue.filter((a) => a.status !== 'timed_out' || !a.via_timeout)).toEqual([]);
      expect(inbox.requests.length).toBe(0);
      // Not ready, and it says why (Postgres is fine).
      const ready = await t.call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.error.message).toMatch(/^not ready: Redis is down \(/);
      expect(ready.body.error.message).not.toContain('Postgres');

      await redis.start();
      const upAt = Date.now();
      await expect.poll(async () => (await t.call('GET', '/readyz')).status, { timeout: 5_000 }).toBe(200);
      // The held messages drain to the delivery_url in order, and every event reaches the webhook.
      await expect.poll(() => inbox.requests.length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(sent);
      const drainedMs = Date.now() - upAt;
      const seqs = inbox.requests.filter((r) => r.json?.type === 'message').map((r) => r.json.data.seq as number);
      expect([...new Set(seqs)]).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
      await expect
        .poll(async () => (await approvals(asked)).filter((a) => a.status === 'timed_out').length, { timeout: 10_000 })
        .toBe(asked.length);
      await expect.poll(() => pendingDeliveries(ws), { timeout: 15_000 }).toBe(0);
      const delivered = new Set(hooks.requests.map((r) => r.json.data.pause_id));
      expect(asked.every((id) => delivered.has(id))).toBe(true);
      expect(drainedMs).toBeLessThan(10_000);
    },
    DOWN_MS + 60_000,
  );
});
