// Queue mode across real processes (contract §2): two `web` and two `worker` processes on one
// Postgres and one Redis, started from source as the Procfile starts them. What one web process
// does reaches clients of the other; each timeout fires once and each drain runs once although
// both workers could take it; the rate limit is one count over both web processes; and each worker
// serves its metrics on METRICS_PORT (counted once across them).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { freePort } from './fault/support/services.js';
import { startReceiver, type Receiver } from './support/receiver.js';
import { startLeash, type LeashProcess } from './support/processes.js';
import { StreamClient } from './support/stream-client.js';

const t = useTestApp();
const LIMIT = 60;
const procs: LeashProcess[] = [];
let webA = '';
let webB = '';
const workerMetrics: string[] = [];

const start = async (role: 'web' | 'worker', env: Record<string, string>, ready: string) => {
  procs.push(await startLeash(role, env, ready));
};

beforeAll(async () => {
  const shared = {
    NODE_ENV: 'test',
    DATABASE_URL: t.config.databaseUrl,
    REDIS_URL: t.config.redisUrl!,
    QUEUE_PREFIX: `leash-cluster-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ALLOW_PRIVATE_URLS: 'true',
    RATE_LIMIT_PER_MINUTE: String(LIMIT),
    SWEEP_INTERVAL_MS: '1000',
  };
  const [a, b, m1, m2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  webA = `http://127.0.0.1:${a}`;
  webB = `http://127.0.0.1:${b}`;
  workerMetrics.push(`http://127.0.0.1:${m1}`, `http://127.0.0.1:${m2}`);
  await Promise.all([
    start('web', { ...shared, PORT: String(a), PUBLIC_URL: webA }, `${webA}/readyz`),
    start('web', { ...shared, PORT: String(b), PUBLIC_URL: webA }, `${webB}/readyz`),
    start('worker', { ...shared, METRICS_PORT: String(m1) }, `${workerMetrics[0]}/readyz`),
    start('worker', { ...shared, METRICS_PORT: String(m2) }, `${workerMetrics[1]}/readyz`),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
});

async function call(base: string, method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

const question = (extra: Record<string, unknown> = {}) => ({
  channel: 'web',
  recipient: 'ana@example.com',
  message: 'Ship?',
  options: ['Yes', 'No'],
  ...extra,
});

describe('two web and two worker processes', () => {
  it('a decision on A wakes a long-poll and a WebSocket on B', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('cluster-waker');
    const stream = await StreamClient.open(webB, bot.key);
    try {
      const asked = await call(webB, 'POST', '/v1/pause', bot.key, question());
      expect(asked.status).toBe(201);
      const id = asked.body.pause_id;
      const polling = call(webB, 'GET', `/v1/pause/${id}?wait=20`, bot.key);
      await new Promise((r) => setTimeout(r, 300));
      expect((await call(webA, 'POST', `/v1/pause/${id}/respond`, ws.ownerKey, { choice: 'Yes' })).status).toBe(200);
      expect((await polling).body).toMatchObject({ status: 'responded', response_choice: 'Yes' });
      await stream.until((c) =>
        c.frames.some((f) => f.type === 'control' && f.data?.pause_id === id && f.data?.status === 'responded'),
      );
    } finally {
      stream.ws.close();
    }
  });

  it('a graceful stop requested on A is confirmed through B', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('cluster-stopper');
    const stream = await StreamClient.open(webB, bot.key);
    try {
      const stopping = call(webA, 'POST', `/v1/agents/${bot.id}/stop`, ws.ownerKey, {
        graceful: true,
        timeout: 15_000,
      });
      await stream.until((c) => c.controls().includes('stop_requested'));
      expect((await call(webB, 'POST', '/v1/agents/me/stopped', bot.key, {})).status).toBe(200);
      const stopped = await stopping;
      expect(stopped.status).toBe(200);
      expect(stopped.body).toMatchObject({ status: 'inactive', stopped_at: expect.any(String) });
    } finally {
      stream.ws.close();
    }
  });

  it('each timeout fires once, though both workers could fire it; the workers count it once', async () => {
    const receiver = await startReceiver();
    try {
      const ws = await t.workspace();
      await call(webA, 'POST', '/v1/webhooks', ws.ownerKey, { url: `${receiver.url}/hook` });
      const bot = await ws.agent('cluster-timeouts');
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await call(
          i % 2 ? webA : webB,
          'POST',
          '/v1/pause',
          bot.key,
          question({ timeout_seconds: 1, timeout_default: 'No' }),
        );
        expect(r.status).toBe(201);
        ids.push(r.body.pause_id);
      }
      const timedOut = () =>
        receiver.requests.filter((r) => r.json?.type === 'pause_request.timed_out').map((r) => r.json.data.pause_id);
      await expect.poll(() => new Set(timedOut()).size, { timeout: 15_000 }).toBe(20);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(timedOut().sort()).toEqual([...ids].sort());
      const rows = await t.deps.db
        .selectFrom('activity')
        .select('details')
        .where('agent_id', '=', bot.id)
        .where('action', '=', 'approval.timed_out')
        .execute();
      expect(rows).toHaveLength(20);

      const counted = async () => {
        let n = 0;
        for (const base of workerMetrics) {
          const text = await (await fetch(`${base}/metrics`)).text();
          const line = text.split('\n').find((l) => l.startsWith('leash_approvals_timed_out_total{channel="web"} '));
          n += line ? Number(line.split(' ')[1]) : 0;
        }
        return n;
      };
      await expect.poll(counted, { timeout: 5_000 }).toBeGreaterThanOrEqual(20);
      // Summed over the workers: each event was fanned out, and counted, by one of them.
      expect(await counted()).toBe(await timedOutEverywhere());
    } finally {
      await receiver.close();
    }
  });

  it('a drain runs once: held messages sent through both web processes arrive once, in order', async () => {
    const receiver: Receiver = await startReceiver();
    try {
      const ws = await t.workspace();
      const inbox = await ws.agent('cluster-inbox', { delivery_url: `${receiver.url}/inbox` });
      const sender = await ws.agent('cluster-sender');
      expect((await call(webA, 'POST', `/v1/agents/${inbox.id}/pause`, ws.ownerKey, { mode: 'full' })).status).toBe(
        200,
      );
      for (let i = 1; i <= 30; i++) {
        const r = await call(i % 2 ? webA : webB, 'POST', '/v1/messages', sender.key, {
          to: 'cluster-inbox',
          body: { i },
        });
        expect(r.status).toBe(202);
      }
      expect((await call(webB, 'POST', `/v1/agents/${inbox.id}/unpause`, ws.ownerKey, {})).status).toBe(200);
      const seqs = () => receiver.requests.filter((r) => r.json?.type === 'message').map((r) => r.json.data.seq);
      await expect.poll(() => seqs().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(30);
      await new Promise((r) => setTimeout(r, 1_000));
      expect(seqs()).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    } finally {
      await receiver.close();
    }
  });

  it(`the rate limit is one count over both web processes (${LIMIT} a minute per key, a flush late at most)`, async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('cluster-limited');
    // Half the limit on each process: neither alone has reached it…
    for (let i = 0; i < LIMIT; i++)
      expect((await call(i % 2 ? webA : webB, 'GET', '/v1/agents/me', bot.key)).status).toBe(200);
    // …but once each has heard of the other's (FLUSH_MS, 100 ms), both refuse.
    await new Promise((r) => setTimeout(r, 500));
    await call(webA, 'GET', '/v1/agents/me', bot.key);
    await call(webB, 'GET', '/v1/agents/me', bot.key);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call(webA, 'GET', '/v1/agents/me', bot.key)).status).toBe(429);
    expect((await call(webB, 'GET', '/v1/agents/me', bot.key)).status).toBe(429);
  });

  it('every process stayed up', () => {
    for (const p of procs) expect(p.child.exitCode, p.err()).toBeNull();
  });
});

/** Every web approval timed out in this database (the workers' counters cover them all). */
async function timedOutEverywhere(): Promise<number> {
  const row = await t.deps.db
    .selectFrom('approvals')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('status', '=', 'timed_out')
    .where('channel', '=', 'web')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
