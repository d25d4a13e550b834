// kill -9 the worker, ten times, at random points while it times approvals out, drains an inbox to
// a delivery_url and delivers webhooks. Afterwards: every approval timed out exactly once (one
// decision, one timeline row, one event), every event reached the webhook receiver, and the drain
// resumed from the last acked seq each time (no gap, no reorder, no jump ahead).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { testEnv, useTestApp } from '../support/app.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

const KILLS = Number(process.env.FAULT_KILLS ?? 10);
const APPROVALS = 60;
const MESSAGES = 1_000;

const t = useTestApp();
const children: ChildProcess[] = [];
const receivers: Receiver[] = [];
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const r of receivers) await r.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded PRNG, so a failing run's kill points can be replayed (FAULT_SEED). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

async function receiver(delayMs: number): Promise<Receiver> {
  const r = await startReceiver();
  r.respond = async () => {
    await sleep(delayMs);
    return 200;
  };
  receivers.push(r);
  return r;
}

describe('worker killed with SIGKILL', () => {
  it(`${KILLS} times at random points: 0 lost, 0 duplicate decisions, the drain resumes from the last ack`, async () => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    console.log(`worker-kill seed ${seed} (FAULT_SEED=${seed} replays it)`);

    const hooks = await receiver(20);
    const inbox = await receiver(2);
    const ws = await t.workspace();
    expect(
      (
        await t.call('POST', '/v1/webhooks', {
          key: ws.ownerKey,
          body: { url: `${hooks.url}/hook`, events: ['pause_request.timed_out'] },
        })
      ).status,
    ).toBe(201);
    const asker = await ws.agent('asker');
    const reader = await ws.agent('reader', { delivery_url: `${inbox.url}/inbox` });

    // Approvals due throughout the kills (3–25 s), and a held inbox of 1,000 messages.
    const ids: string[] = [];
    for (let i = 0; i < APPROVALS; i++) {
      const res = await t.call('POST', '/v1/pause', {
        key: asker.key,
        body: {
          recipient: 'a@example.com',
          channel: 'web',
          message: `Wire #${i}?`,
          options: ['Yes', 'No'],
          timeout_seconds: 3 + Math.floor((22 * i) / APPROVALS),
          timeout_default: 'No',
        },
      });
      expect(res.status).toBe(201);
      ids.push(res.body.pause_id);
    }
    await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
              select gen_random_uuid(), ${ws.id}, ${reader.id}, ${asker.id}, s, to_json(s) from generate_series(1, ${MESSAGES}) s`.execute(
      t.deps.db,
    );
    await t.deps.db
      .updateTable('agents')
      .set({ inbox_seq: MESSAGES, backlog_since: new Date() })
      .where('id', '=', reader.id)
      .execute();

    const env = {
      ...process.env,
      ...testEnv(t.config.databaseUrl),
      QUEUE_PREFIX: `leash-test-kill-${randomBytes(4).toString('hex')}`,
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL_MS: '1000',
      RETRY_SCHEDULE_MS: '200,200,200,200,200',
    };
    /** A worker process; resolves once it has started (it logs "worker started"). */
    const startWorker = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d) => {
          out += d;
          if (out.includes('worker started')) resolve();
        });
        child.once('exit', () => reject(new Error(`worker exited before starting:\n${out}`)));
      });
      child.stdout!.resume();
      return child;
    };

    const acked = async () =>
      Number(
        (await t.deps.db.selectFrom('agents').select('acked_seq').where('id', '=', reader.id).executeTakeFirstOrThrow())
          .acked_seq,
      );
    const startedAt = Date.now();
    const kills: { afterMs: number; ackedAtKill: number; delivered: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      const child = await startWorker();
      const afterMs = Math.floor(200 + random() * 1_800);
      await sleep(afterMs);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      kills.push({ afterMs, ackedAtKill: await acked(), delivered: hooks.requests.length });
    }
    const killsTookS = Math.round((Date.now() - startedAt) / 1000);
    await startWorker();

    // Everything finishes: the drain (a killed drain's lock lapses in ~10 s), every timeout and its delivery.
    await expect.poll(acked, { timeout: 45_000, interval: 200 }).toBe(MESSAGES);
    const statuses = async () =>
      (await t.deps.db.selectFrom('approvals').select('status').where('id', 'in', ids).execute()).filter(
        (a) => a.status === 'timed_out',
      ).length;
    await expect.poll(statuses, { timeout: 30_000, interval: 200 }).toBe(APPROVALS);
    const pending = () => t.deps.db.selectFrom('deliveries').select('id').where('status', '=', 'pending').execute();
    await expect.poll(async () => (await pending()).length, { timeout: 30_000, interval: 200 }).toBe(0);

    // 0 duplicate decisions: one terminal state, one timeline row and one event per approval.
    const rows = await t.deps.db
      .selectFrom('approvals')
      .select(['id', 'status', 'via_timeout', 'response_choice', 'expires_at', 'response_at'])
      .where('id', 'in', ids)
      .execute();
    for (const a of rows) expect([a.status, a.via_timeout, a.response_choice]).toEqual(['timed_out', true, 'No']);
    const timeline = await t.deps.db
      .selectFrom('activity')
      .select('details')
      .where('agent_id', '=', asker.id)
      .where('action', '=', 'approval.timed_out')
      .execute();
    expect(timeline.map((r) => (r.details as { pause_id: string }).pause_id).sort()).toEqual([...ids].sort());
    const events = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('type', '=', 'pause_request.timed_out')
      .where('workspace_id', '=', ws.id)
      .execute();
    expect(events.length).toBe(APPROVALS);

    // 0 lost: every timeout reached the receiver (at least once; a kill mid-POST may repeat one).
    const seen = new Set(hooks.requests.map((r) => r.json.data.pause_id as string));
    expect([...seen].sort()).toEqual([...ids].sort());

    // The drain: first arrivals are exactly 1..N in order; each arrival is the next seq or a repeat
    // from the last ack (never a jump ahead); repeats are bounded by one ack interval per kill.
    const seqs = inbox.requests.filter((r) => r.json?.type === 'message').map((r) => r.json.data.seq as number);
    const first = seqs.filter((s, i) => seqs.indexOf(s) === i);
    expect(first).toEqual(Array.from({ length: MESSAGES }, (_, i) => i + 1));
    let high = 0;
    for (const s of seqs) {
      expect(s).toBeLessThanOrEqual(high + 1);
      high = Math.max(high, s);
    }
    expect(seqs.length - MESSAGES).toBeLessThanOrEqual(50 * KILLS);
    // The kills did land mid-work: the drain and the deliveries were progressing across them.
    expect(new Set(kills.map((k) => k.ackedAtKill)).size).toBeGreaterThan(1);
    const lateness = rows.map((a) => a.response_at!.getTime() - a.expires_at.getTime()).sort((a, b) => a - b);
    console.log(
      `worker-kill: ${KILLS} kills in ${killsTookS} s; acked at each kill ${kills.map((k) => k.ackedAtKill).join(',')}; ` +
        `${seqs.length - MESSAGES} repeated drain POSTs; ${hooks.requests.length - APPROVALS} repeated webhook POSTs; timeout lateness max ${lateness.at(-1)} ms`,
    );
  }, 180_000);
});
