// The delivery_url drain with a real worker (real Redis) and a signed-request receiver on loopback:
// seq order, one request at a time, signatures, acks, backoff, the full-pause hold, a worker killed
// with SIGKILL mid-drain, and a Redis that forgets.
import { spawn, type ChildProcess } from 'node:child_process';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { testEnv, useTestApp } from './support/app.js';
import { startReceiver, verifyStandardWebhook, type Receiver } from './support/receiver.js';
import { useWorkers } from './support/worker.js';

const t = useTestApp();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const worker = useWorkers(t, { retryScheduleMs: [50, 50, 50] });

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  cleanups.push(() => r.close());
  return r;
}

/** The messages a receiver got (events to the same URL are left out), in arrival order. */
const messagesOf = (r: Receiver) => r.requests.filter((q) => q.json?.type === 'message').map((q) => q.json.data);
const seqsOf = (r: Receiver) => messagesOf(r).map((m) => m.seq as number);
/** First arrivals only (delivery is at least once; seq lets the agent drop repeats). */
const firstSeen = (seqs: number[]) => seqs.filter((s, i) => seqs.indexOf(s) === i);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function setup(url: string) {
  const ws = await t.workspace();
  const alice = await ws.agent('alice');
  const bob = await ws.agent('bob', { delivery_url: `${url}/inbox` });
  return { ws, alice, bob, secret: bob.body.delivery_secret as string };
}

const send = (key: string, body: unknown) => t.call('POST', '/v1/messages', { key, body: { to: 'bob', body } });

/** n messages straight into bob's inbox (the send path is tested elsewhere), then a wake-up. */
async function fill(ids: { ws: { id: string }; alice: { id: string }; bob: { id: string } }, n: number): Promise<void> {
  await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
            select gen_random_uuid(), ${ids.ws.id}, ${ids.bob.id}, ${ids.alice.id}, s, to_json(s) from generate_series(1, ${n}) s`.execute(
    t.deps.db,
  );
  await t.deps.db
    .updateTable('agents')
    .set({ inbox_seq: n, backlog_since: new Date() })
    .where('id', '=', ids.bob.id)
    .execute();
  await sql`select pg_notify('leash', ${`inbox:${ids.bob.id}`})`.execute(t.deps.db);
}

const agentRow = (id: string) =>
  t.deps.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('delivery_url drain', () => {
  it('POSTs each message in seq order, one at a time, signed with the delivery secret; a 2xx acks it', async () => {
    const r = await receiver();
    let inFlight = 0;
    let most = 0;
    r.respond = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((res) => setTimeout(res, 2));
      inFlight--;
      return 204;
    };
    const { alice, bob, secret } = await setup(r.url);
    await worker();
    for (let i = 1; i <= 30; i++) expect((await send(alice.key, { n: i })).status).toBe(202);
    await expect.poll(() => seqsOf(r).length, { timeout: 10_000 }).toBe(30);
    expect(seqsOf(r)).toEqual(range(1, 30));
    expect(most).toBe(1);
    const first = r.requests.find((q) => q.json?.type === 'message')!;
    expect(first.path).toBe('/inbox');
    expect(verifyStandardWebhook(secret, first.headers, first.body)).toBe(true);
    expect(first.headers['webhook-id']).toBe(first.json.data.id);
    expect(first.json.data).toMatchObject({ seq: 1, from: 'alice', from_id: alice.id, body: { n: 1 } });
    await expect.poll(async () => Number((await agentRow(bob.id)).acked_seq)).toBe(30);
    expect((await t.call('GET', '/v1/agents/me', { key: bob.key })).body.backlog).toEqual({
      undelivered: 0,
      oldest_at: null,
    });
  });

  it('a failing receiver is retried with backoff (kept on the agent) and the drain goes on in order', async () => {
    const r = await receiver();
    let refusals = 2;
    r.respond = (q) => (q.json?.type === 'message' && q.json.data.seq === 2 && refusals-- > 0 ? 503 : 200);
    const { alice, bob } = await setup(r.url);
    await worker();
    await send(alice.key, 1);
    await expect.poll(() => seqsOf(r)).toEqual([1]);
    await send(alice.key, 2);
    await send(alice.key, 3);
    await expect.poll(() => seqsOf(r), { timeout: 10_000 }).toEqual([1, 2, 2, 2, 3]);
    // The ack is written once the drain stops, just after the last POST.
    await expect.poll(async () => Number((await agentRow(bob.id)).acked_seq)).toBe(3);
    const row = await agentRow(bob.id);
    expect([row.drain_failures, row.drain_retry_at, row.drain_error]).toEqual([0, null, null]);
  });

  it('records the failure and its retry time while the receiver is down', async () => {
    const r = await receiver();
    r.respond = () => 500;
    const { alice, bob } = await setup(r.url);
    await worker();
    await send(alice.key, 'x');
    await expect
      .poll(async () => (await agentRow(bob.id)).drain_failures, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    const row = await agentRow(bob.id);
    expect(row.drain_error).toBe('seq 1: receiver answered 500');
    expect(row.drain_retry_at).toBeInstanceOf(Date);
    expect(Number(row.acked_seq)).toBe(0);
  });

  it('nothing is POSTed under full pause (messages still accepted); unpause drains 1,500 held in order, then live', async () => {
    const r = await receiver();
    const ids = await setup(r.url);
    const { ws, alice, bob } = ids;
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await worker();
    await fill(ids, 1_500);
    expect((await send(alice.key, 'while paused')).status).toBe(202);
    await new Promise((res) => setTimeout(res, 500));
    expect(seqsOf(r)).toEqual([]);

    await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey });
    await expect.poll(() => seqsOf(r).length, { timeout: 20_000 }).toBe(1_501);
    expect(seqsOf(r)).toEqual(range(1, 1_501));
    await send(alice.key, 'live');
    await expect.poll(() => seqsOf(r).at(-1)).toBe(1_502);
  });

  it('a soft pause does not hold the drain; a stopped agent gets nothing until started', async () => {
    const r = await receiver();
    const ids = await setup(r.url);
    const { ws, alice, bob } = ids;
    await worker();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await send(alice.key, 1);
    await expect.poll(() => seqsOf(r)).toEqual([1]);

    await t.call('POST', `/v1/agents/${bob.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body) values (gen_random_uuid(), ${ws.id}, ${bob.id}, ${alice.id}, 2, '2')`.execute(
      t.deps.db,
    );
    await t.deps.db.updateTable('agents').set({ inbox_seq: 2 }).where('id', '=', bob.id).execute();
    await sql`select pg_notify('leash', ${`inbox:${bob.id}`})`.execute(t.deps.db);
    await new Promise((res) => setTimeout(res, 300));
    expect(seqsOf(r)).toEqual([1]);
    expect((await t.call('POST', `/v1/agents/${bob.id}/start`, { key: ws.ownerKey })).status).toBe(200);
    await expect.poll(() => seqsOf(r)).toEqual([1, 2]);
  });

  it('a new delivery_url takes the rest at once (the old one’s backoff is dropped), signed with its new secret', async () => {
    const old = await receiver();
    old.respond = () => 503;
    const { ws, alice, bob } = await setup(old.url);
    // A minute of backoff after the first failure: only the reset can make the next POST prompt.
    await worker({ retryScheduleMs: [60_000] });
    await send(alice.key, 'a');
    await expect.poll(() => seqsOf(old).length).toBeGreaterThan(0);
    const fresh = await receiver();
    const patched = await t.call('PATCH', `/v1/agents/${bob.id}`, {
      key: ws.ownerKey,
      body: { delivery_url: `${fresh.url}/new` },
    });
    expect(patched.status).toBe(200);
    await expect.poll(async () => (await agentRow(bob.id)).drain_failures).toBe(0);
    await expect.poll(() => seqsOf(fresh), { timeout: 5_000 }).toEqual([1]);
    const got = fresh.requests.find((q) => q.json?.type === 'message')!;
    expect(verifyStandardWebhook(patched.body.delivery_secret, got.headers, got.body)).toBe(true);
  });

  it('re-arms from Postgres after Redis forgets, mid-drain', async () => {
    const r = await receiver();
    r.respond = async () => {
      await new Promise((res) => setTimeout(res, 1));
      return 200;
    };
    const ids = await setup(r.url);
    const tw = await worker();
    await fill(ids, 600);
    await expect.poll(() => seqsOf(r).length).toBeGreaterThan(100);
    await tw.forget();
    await tw.w.checkRedis();
    await expect.poll(async () => Number((await agentRow(ids.bob.id)).acked_seq), { timeout: 20_000 }).toBe(600);
    expect(firstSeen(seqsOf(r))).toEqual(range(1, 600));
  });

  it('a worker killed with SIGKILL mid-drain: the next one resumes from the last ack, with no gap or reorder', async () => {
    const r = await receiver();
    r.respond = async () => {
      await new Promise((res) => setTimeout(res, 2));
      return 200;
    };
    const ids = await setup(r.url);
    await fill(ids, 800);
    const prefix = `leash-test-kill-${Date.now()}`;
    const env = { ...process.env, ...testEnv(t.config.databaseUrl), QUEUE_PREFIX: prefix };
    const spawnWorker = (): ChildProcess => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], { env, stdio: 'ignore' });
      cleanups.push(async () => child.kill('SIGKILL'));
      return child;
    };
    const first = spawnWorker();
    await expect.poll(() => seqsOf(r).length, { timeout: 20_000 }).toBeGreaterThan(150);
    first.kill('SIGKILL');
    await new Promise((res) => first.once('exit', res));
    const cut = seqsOf(r).length;
    expect(cut).toBeLessThan(800);

    spawnWorker();
    await expect
      .poll(async () => Number((await agentRow(ids.bob.id)).acked_seq), { timeout: 30_000, interval: 200 })
      .toBe(800);
    const seqs = seqsOf(r);
    expect(firstSeen(seqs)).toEqual(range(1, 800));
    // Each arrival is the next new seq or a repeat from the last ack: never a jump ahead.
    let high = 0;
    for (const s of seqs) {
      expect(s).toBeLessThanOrEqual(high + 1);
      high = Math.max(high, s);
    }
    // At most one lease's messages (a page: 200) are delivered twice.
    expect(seqs.length - 800).toBeLessThanOrEqual(200);
  }, 60_000);

  describe('the fence: no POST starts after a change that ends the drain commits', () => {
    /** A receiver that answers at once and notes when each message arrived (this process's clock). */
    async function timedReceiver() {
      const r = await receiver();
      const arrivals: number[] = [];
      r.respond = (q) => {
        if (q.json?.type === 'message') arrivals.push(performance.now());
        return 200;
      };
      return { r, arrivals };
    }
    /** Arrivals later than `at` by more than loopback's few milliseconds: POSTs started after it. */
    const lateAfter = async (arrivals: number[], at: number) => {
      await new Promise((res) => setTimeout(res, 300));
      return arrivals.filter((a) => a > at + 5).length;
    };

    it('full pause, five times mid-drain: nothing arrives once the pause has answered; each unpause resumes', async () => {
      const { r, arrivals } = await timedReceiver();
      const ids = await setup(r.url);
      const { ws, bob } = ids;
      await fill(ids, 20_000);
      await worker();
      for (let round = 1; round <= 5; round++) {
        const seen = arrivals.length;
        await expect.poll(() => arrivals.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(seen + 100);
        const paused = await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
        const at = performance.now();
        expect(paused.status).toBe(200);
        expect(await lateAfter(arrivals, at)).toBe(0);
        expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
      }
      const seqs = firstSeen(seqsOf(r));
      expect(seqs).toEqual(range(1, seqs.length));
    }, 60_000);

    it('a forced stop and a new delivery_url mid-drain: nothing more reaches the old URL', async () => {
      const a = await timedReceiver();
      const ids = await setup(a.r.url);
      const { ws, bob } = ids;
      await fill(ids, 20_000);
      await worker();
      await expect.poll(() => a.arrivals.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(100);
      const stopped = await t.call('POST', `/v1/agents/${bob.id}/stop`, {
        key: ws.ownerKey,
        body: { graceful: false },
      });
      expect(stopped.status).toBe(200);
      expect(await lateAfter(a.arrivals, performance.now())).toBe(0);

      expect((await t.call('POST', `/v1/agents/${bob.id}/start`, { key: ws.ownerKey })).status).toBe(200);
      const seen = a.arrivals.length;
      await expect.poll(() => a.arrivals.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(seen + 100);
      const b = await timedReceiver();
      const patched = await t.call('PATCH', `/v1/agents/${bob.id}`, {
        key: ws.ownerKey,
        body: { delivery_url: `${b.r.url}/inbox` },
      });
      expect(patched.status).toBe(200);
      expect(await lateAfter(a.arrivals, performance.now())).toBe(0);
      await expect.poll(() => b.arrivals.length, { timeout: 10_000 }).toBeGreaterThan(0);
      // The new URL takes up where the old one stopped: no gap.
      expect(firstSeen(seqsOf(b.r))[0]).toBeLessThanOrEqual(Math.max(...seqsOf(a.r)) + 1);
    }, 60_000);

    it('a pause does not wait for a slow receiver: the POST under way finishes, and nothing follows it', async () => {
      const r = await receiver();
      let slow = false;
      let answered = 0;
      r.respond = async (q) => {
        if (q.json?.type === 'message' && slow) await new Promise((res) => setTimeout(res, 3_000));
        answered++;
        return 200;
      };
      const ids = await setup(r.url);
      const { ws, bob } = ids;
      await fill(ids, 5_000);
      await worker();
      await expect.poll(() => answered, { timeout: 10_000, interval: 5 }).toBeGreaterThan(50);
      slow = true;
      const count = () => seqsOf(r).length;
      const seen = count();
      await expect.poll(count, { timeout: 5_000, interval: 5 }).toBeGreaterThan(seen);
      const inFlight = count();
      const started = performance.now();
      const paused = await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
      expect(paused.status).toBe(200);
      expect(performance.now() - started).toBeLessThan(1_500);
      // The slow POST's answer comes in after the pause; no other POST follows it.
      await new Promise((res) => setTimeout(res, 3_500));
      expect(count()).toBe(inFlight);
      expect(Number((await agentRow(bob.id)).acked_seq)).toBe(seqsOf(r).at(-1));
    }, 30_000);
  });
});
