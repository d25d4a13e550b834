// Single mode (contract §2): DATABASE_URL set, REDIS_URL unset. The worker schedules in the process
// (jobs/in-process/), with the promises of queue mode: timers on time and once, everything re-armed
// from Postgres at start, one drain per agent in seq order, pacing without Redis.
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { inProcessScheduler } from '../jobs/in-process/scheduler.js';
import { RunAgain, type JobData } from '../jobs/scheduler.js';
import { useTestApp } from './support/app.js';
import { startReceiver } from './support/receiver.js';
import { useWorkers } from './support/worker.js';

const t = useTestApp({ REDIS_URL: '' });
const worker = useWorkers(t);
const receiver = await startReceiver();
afterAll(() => receiver.close());

async function ask(key: string, timeout_seconds: number) {
  const res = await t.call('POST', '/v1/pause', {
    key,
    body: {
      channel: 'web',
      recipient: 'owner@example.com',
      message: 'Ship it?',
      options: ['Yes', 'No'],
      timeout_seconds,
      timeout_default: 'No',
    },
  });
  expect(res.status).toBe(201);
  return res.body.pause_id as string;
}

const timedOutRows = (id: string) =>
  t.deps.db
    .selectFrom('activity')
    .select('id')
    .where('action', '=', 'approval.timed_out')
    .where(sql<string>`details->>'pause_id'`, '=', id)
    .execute();

describe('single mode', () => {
  it('runs without Redis: the mode is single and the worker needs no Redis', async () => {
    expect(t.config.mode).toBe('single');
    expect(t.config.redisUrl).toBeUndefined();
    await worker();
  });

  it('a second worker without Redis on the same database is refused, saying why', async () => {
    await worker();
    await expect(worker()).rejects.toThrow(/Another Leash without REDIS_URL already runs its worker on this database/);
  });

  it('a timer fires on time, once, with the declared default', async () => {
    await worker();
    const ws = await t.workspace();
    const bot = await ws.agent('timer-bot');
    const id = await ask(bot.key, 1);
    const get = async () => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body;
    await expect.poll(async () => (await get()).status, { timeout: 5_000 }).toBe('timed_out');
    const a = await get();
    expect(a.response_choice).toBe('No');
    expect(new Date(a.response_at).getTime()).toBeGreaterThanOrEqual(new Date(a.expires_at).getTime());
    expect(await timedOutRows(id)).toHaveLength(1);
  });

  it('timers armed by a stopped worker are re-armed from Postgres by the next one, and fire once', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('restart-bot');
    const first = await worker();
    const ids = await Promise.all(Array.from({ length: 10 }, () => ask(bot.key, 2)));
    await first.stop();
    await worker();
    for (const id of ids) {
      await expect
        .poll(async () => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body.status, {
          timeout: 6_000,
        })
        .toBe('timed_out');
    }
    for (const id of ids) expect(await timedOutRows(id)).toHaveLength(1);
  });

  it('messages held under a full pause drain in seq order after unpause', async () => {
    await worker();
    const ws = await t.workspace();
    const alice = await ws.agent('alice');
    const bob = await ws.agent('bob', { delivery_url: `${receiver.url}/bob` });
    expect(
      (await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } })).status,
    ).toBe(200);
    for (let i = 1; i <= 25; i++) {
      const sent = await t.call('POST', '/v1/messages', { key: alice.key, body: { to: 'bob', body: { n: i } } });
      expect(sent.status).toBe(202);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const toBob = () => receiver.requests.filter((r) => r.path === '/bob' && r.json?.type === 'message');
    expect(toBob()).toHaveLength(0);
    expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey, body: {} })).status).toBe(200);
    await expect.poll(() => toBob().length, { timeout: 10_000 }).toBe(25);
    expect(toBob().map((r) => r.json.data.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });
});

describe('the in-process scheduler', () => {
  const quiet = { warn() {}, info() {} } as never;

  it('runs a job at its time, once per id, and again when it asks to (RunAgain)', async () => {
    const s = inProcessScheduler({ log: quiet });
    const runs: number[] = [];
    const processor = {
      concurrency: 2,
      async run(job: { data: JobData }) {
        runs.push(job.data.n);
        if (job.data.n === 2 && runs.filter((n) => n === 2).length === 1) throw new RunAgain(Date.now() + 30);
      },
    };
    const idle = { concurrency: 1, run: async () => {} };
    await s.start(
      { deliveries: processor, timers: idle, channels: idle, drains: idle },
      { lost: async () => {}, completed: () => {} },
    );
    const at = Date.now() + 50;
    await s.arm('deliveries', [
      { name: 'x', id: 'one', data: { n: 1 }, at },
      { name: 'x', id: 'one', data: { n: 1 }, at },
      { name: 'x', id: 'two', data: { n: 2 }, at },
    ]);
    await expect.poll(() => runs.length).toBe(3);
    expect(runs.sort()).toEqual([1, 2, 2]);
    await s.close();
  });

  it('keeps to each queue’s concurrency and retries a failing job with backoff, then gives up', async () => {
    const s = inProcessScheduler({ log: quiet });
    let running = 0;
    let most = 0;
    let failures = 0;
    const slow = {
      concurrency: 3,
      async run() {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        running--;
      },
    };
    const failing = {
      concurrency: 1,
      async run() {
        failures++;
        throw new Error('down');
      },
    };
    const idle = { concurrency: 1, run: async () => {} };
    await s.start(
      { deliveries: slow, timers: idle, channels: failing, drains: idle },
      { lost: async () => {}, completed: () => {} },
    );
    await s.arm(
      'deliveries',
      Array.from({ length: 12 }, (_, i) => ({ name: 'x', id: `d${i}`, data: {}, at: 0 })),
    );
    await s.arm('channels', [{ name: 'send', id: 'c', data: {}, at: 0 }]);
    await expect.poll(() => failures, { timeout: 5_000 }).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(most).toBe(3);
    expect(failures).toBe(3);
    await s.close();
  });

  it('paces calls per key and counts a per-minute budget, in memory', async () => {
    const { pacing } = inProcessScheduler({ log: quiet });
    await pacing.pace('chat:1', 1_000);
    await expect(pacing.pace('chat:1', 1_000)).rejects.toBeInstanceOf(RunAgain);
    await pacing.pace('chat:2', 1_000);
    await pacing.budget('ws:sms', 2);
    await pacing.budget('ws:sms', 2);
    await expect(pacing.budget('ws:sms', 2)).rejects.toBeInstanceOf(RunAgain);
  });
});
