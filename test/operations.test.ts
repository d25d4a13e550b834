// The operator's surface (contract §9): /metrics moves when the work happens, answers only where
// it may, and every log line of a request names it. (/readyz with Postgres and Redis down is in
// test/fault/postgres-restart.test.ts and test/fault/redis.test.ts, on private servers.)
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildDeps, closeDeps } from '../src/app.js';
import { buildServer } from '../src/http/server.js';
import { useTestApp, type TestApp } from './support/app.js';
import { startReceiver } from './support/receiver.js';
import { useWorkers } from './support/worker.js';

const t = useTestApp({
  SMTP_URL: 'smtp://127.0.0.1:1',
  EMAIL_FROM: 'leash@example.com',
  CHANNEL_RETRY_SCHEDULE_MS: '60000',
});
const worker = useWorkers(t);

async function scrape(app: TestApp): Promise<string> {
  const res = await app.app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return res.body;
}

/** The value of one series (0 when absent), e.g. value(text, 'leash_approvals_created_total{channel="web"}'). */
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const ask = (key: string, extra: Record<string, unknown> = {}) =>
  t.call('POST', '/v1/pause', {
    key,
    body: { channel: 'web', recipient: 'ana@example.com', message: 'Ship?', options: ['Yes', 'No'], ...extra },
  });

describe('GET /metrics', () => {
  it('counts approvals asked, decided and timed out, time to decision and pending, as they happen', async () => {
    await worker();
    const ws = await t.workspace();
    const bot = await ws.agent('metrics-bot');
    const before = await scrape(t);
    const created = (s: string) => value(s, 'leash_approvals_created_total{channel="web"}');
    const decided = (s: string) => value(s, 'leash_approvals_decided_total{channel="web",via="api"}');
    const timedOut = (s: string) => value(s, 'leash_approvals_timed_out_total{channel="web"}');
    const decisions = (s: string) => value(s, 'leash_approval_time_to_decision_seconds_count{channel="web"}');

    const q = await ask(bot.key);
    expect(q.status).toBe(201);
    await expect.poll(async () => created(await scrape(t))).toBe(created(before) + 1);
    expect(value(await scrape(t), 'leash_approvals_pending')).toBe(value(before, 'leash_approvals_pending') + 1);

    await t.call('POST', `/v1/pause/${q.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Yes' } });
    await expect.poll(async () => decided(await scrape(t))).toBe(decided(before) + 1);
    const after = await scrape(t);
    expect(decisions(after)).toBe(decisions(before) + 1);
    expect(value(after, 'leash_approvals_pending')).toBe(value(before, 'leash_approvals_pending'));

    await ask(bot.key, { timeout_seconds: 1, timeout_default: 'No' });
    await expect.poll(async () => timedOut(await scrape(t)), { timeout: 8_000 }).toBe(timedOut(before) + 1);
    // A timeout is no human decision.
    expect(decided(await scrape(t))).toBe(decided(before) + 1);
  });

  it('counts requests by route pattern and status, never by id', async () => {
    const ws = await t.workspace();
    const bot = await ws.agent('routes-bot');
    const q = await ask(bot.key);
    await t.call('GET', `/v1/pause/${q.body.pause_id}`, { key: bot.key });
    await t.call('GET', '/v1/pause/01a23b75-ec95-7265-83a9-da913a8a80de', { key: bot.key });
    const text = await scrape(t);
    expect(
      value(text, 'leash_http_request_duration_seconds_count{method="POST",route="/v1/pause",status="201"}'),
    ).toBeGreaterThan(0);
    expect(
      value(text, 'leash_http_request_duration_seconds_count{method="GET",route="/v1/pause/:pause_id",status="200"}'),
    ).toBeGreaterThan(0);
    expect(
      value(text, 'leash_http_request_duration_seconds_count{method="GET",route="/v1/pause/:pause_id",status="404"}'),
    ).toBeGreaterThan(0);
    expect(text).not.toContain(q.body.pause_id);
    expect(text).toContain('leash_http_request_duration_seconds_bucket{le="0.005"');
  });

  it('shows a failed channel send, a delivery, the inbox backlog and the scheduler queues', async () => {
    await worker();
    const receiver = await startReceiver();
    try {
      const ws = await t.workspace();
      const bot = await ws.agent('backlog-bot');
      const before = await scrape(t);
      await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body: { url: `${receiver.url}/hook` } });
      await t.call('POST', `/v1/agents/${bot.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
      const sender = await ws.agent('sender-bot');
      for (let i = 0; i < 3; i++)
        expect(
          (await t.call('POST', '/v1/messages', { key: sender.key, body: { to: 'backlog-bot', body: { i } } })).status,
        ).toBe(202);
      // Nothing listens on port 1: the email cannot go, and says so.
      expect((await ask(sender.key, { channel: 'email', recipient: 'cto@example.com' })).status).toBe(201);

      const failedSends = (s: string) => value(s, 'leash_channel_sends_total{channel="email",outcome="failed"}');
      await expect.poll(async () => failedSends(await scrape(t)), { timeout: 10_000 }).toBe(failedSends(before) + 1);
      const delivered = (s: string) => value(s, 'leash_delivery_attempts_total{outcome="succeeded"}');
      await expect.poll(async () => delivered(await scrape(t)), { timeout: 10_000 }).toBeGreaterThan(delivered(before));
      const text = await scrape(t);
      expect(value(text, 'leash_inbox_backlog')).toBeGreaterThanOrEqual(3);
      expect(value(text, 'leash_inbox_backlog_max')).toBeGreaterThanOrEqual(3);
      // The email's retry waits a minute in the channels queue.
      expect(value(text, 'leash_scheduler_jobs{queue="channels",state="delayed"}')).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/^leash_outbox_lag_seconds \d/m);
      expect(text).toMatch(/^leash_process_resident_memory_bytes \d/m);
    } finally {
      await receiver.close();
    }
  });

  it('answers on loopback only, unless METRICS_TOKEN is set; then only with the token', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode).toBe(403);
    const refused = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' });
    expect(JSON.parse(refused.body).error).toMatchObject({
      code: 'forbidden',
      message: expect.stringContaining('METRICS_TOKEN'),
      request_id: refused.headers['x-request-id'],
    });
    const deps = buildDeps({ ...t.config, metricsToken: 'scrape-me-0123456789' });
    const app = await buildServer(deps, { routes: [], pages: [] });
    try {
      const from = (remoteAddress: string, authorization?: string) =>
        app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers: authorization ? { authorization } : {} });
      expect((await from('10.1.2.3', 'Bearer scrape-me-0123456789')).statusCode).toBe(200);
      expect((await from('127.0.0.1')).statusCode).toBe(401);
      expect((await from('10.1.2.3', 'Bearer scrape-me-012345678X')).statusCode).toBe(401);
      expect(JSON.parse((await from('10.1.2.3')).body).error.message).toContain('Bearer <METRICS_TOKEN>');
    } finally {
      await app.close();
      await closeDeps(deps);
    }
  });
});

describe('probes', () => {
  it('/healthz says the process is up; /readyz that Postgres and Redis answer', async () => {
    expect((await t.call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await t.call('GET', '/readyz')).body).toEqual({ ok: true, postgres: 'up', redis: 'up' });
  });
});

describe('logs', () => {
  it('every line written while a request is handled names it, the core’s lines too, once', async () => {
    const lines: Record<string, unknown>[] = [];
    const logStream = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const deps = buildDeps({ ...t.config, logLevel: 'info' }, { logStream });
    // A surface whose handler logs through deps.log, as the core does.
    const app = await buildServer(deps, {
      routes: [
        (a, d) => {
          a.get('/core-logs', async () => {
            await new Promise((r) => setTimeout(r, 5));
            d.log.info('written by the core');
            return { ok: true };
          });
        },
      ],
      pages: [],
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/core-logs' });
      const id = res.headers['x-request-id'];
      expect(id).toBeTruthy();
      const mine = lines.filter((l) => l.request_id === id);
      expect(mine.map((l) => l.msg)).toEqual(['incoming request', 'written by the core', 'request completed']);
      const raw = JSON.stringify(lines);
      expect(raw).not.toContain('"reqId"');
      // Written outside any request: no id.
      deps.log.info('between requests');
      expect(lines.at(-1)).not.toHaveProperty('request_id');
    } finally {
      await app.close();
      await closeDeps(deps);
    }
  });
});
