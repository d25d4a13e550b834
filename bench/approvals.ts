// Approvals: create latency and throughput against a bare Fastify+pg INSERT baseline, decision →
// long-poll wake latency, and timeout lateness (expires_at → committed timed_out). Leash runs as a
// real `all` process (web + worker) in a throwaway database; the baseline runs beside it.
//   npm run bench            (all scenarios)   BENCH_QUICK=1 for a short run
import { randomBytes } from 'node:crypto';
import { createAgent } from '../src/agents/registry.js';
import { operatorCtx } from '../src/context.js';
import { createDb } from '../src/db/index.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { addMember } from '../src/members/members.js';
import { createWorkspace } from '../src/workspaces/workspaces.js';
import { client, f, freePort, freshDatabase, get, load, report, post, startProcess, stats, stopProcess, type Stats } from './support/lib.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_SEQ = QUICK ? 200 : 1_000;
const N_CONC = QUICK ? 1_000 : 5_000;
const CONNS = 50;
const N_DECIDE = QUICK ? 100 : 300;
const N_TIMEOUT = QUICK ? 200 : 1_000;

const ask = (i: number, extra: Record<string, unknown> = {}) => ({
  recipient: 'alice@example.com',
  channel: 'web',
  message: `Send wire #${i} to Acme?`,
  options: ['Approve', 'Reject'],
  timeout_seconds: 3600,
  metadata: { amount: 340, invoice: `INV-${i}` },
  ...extra,
});

const rows: string[] = [];
const row = (name: string, s: Stats, extra = '') => rows.push(`| ${name} | ${s.n} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${extra} |`);

async function main() {
  const database = await freshDatabase('approvals');
  const db = createDb(database.url, { max: 4 });
  const leashPort = freePort();
  const basePort = freePort();
  const prefix = `leash-bench-${randomBytes(3).toString('hex')}`;
  let leash, baseline;
  try {
    await migrateToLatest(db);
    const ws = await createWorkspace(db, { name: 'Bench', ownerEmail: 'owner@example.com' });
    const approver = await addMember(db, operatorCtx(ws.workspace_id), { email: 'approver@example.com', role: 'approver' });
    const agent = await createAgent(db, operatorCtx(ws.workspace_id), { name: 'bench-agent' }, { allowPrivateUrls: true });

    const env = { DATABASE_URL: database.url, NODE_ENV: 'production', LEASH_SECRET: 'bench-secret', LOG_LEVEL: 'warn', QUEUE_PREFIX: prefix, HOST: '127.0.0.1' };
    leash = await startProcess('src/main.ts', ['all'], { ...env, PORT: String(leashPort) }, `http://127.0.0.1:${leashPort}/healthz`);
    baseline = await startProcess('bench/support/baseline-server.ts', [], { DATABASE_URL: database.url, PORT: String(basePort) }, `http://127.0.0.1:${basePort}/`);
    const L = client(`http://127.0.0.1:${leashPort}`, CONNS);
    const B = client(`http://127.0.0.1:${basePort}`, CONNS);

    // 1. Create: sequential latency, then throughput at 50 connections.
    const createLeash = async (i: number) => {
      const r = await post(L, '/v1/pause', ask(i), agent.api_key);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    };
    const createBase = async (i: number) => {
      const r = await post(B, '/insert', ask(i));
      if (r.status !== 200) throw new Error(`baseline: ${r.status}`);
    };
    await load(300, 10, createLeash); // warm up both
    await load(300, 10, createBase);
    const seqBase = await load(N_SEQ, 1, createBase);
    const seqLeash = await load(N_SEQ, 1, createLeash);
    const concBase = await load(N_CONC, CONNS, createBase);
    const concLeash = await load(N_CONC, CONNS, createLeash);
    const tput = (r: { ms: number[]; wallMs: number }) => (r.ms.length / r.wallMs) * 1000;
    row('baseline INSERT, sequential (ms)', stats(seqBase.ms));
    row('create approval, sequential (ms)', stats(seqLeash.ms), `${f(stats(seqLeash.ms).p50 / stats(seqBase.ms).p50, 2)} × baseline p50`);
    row(`baseline INSERT, ${CONNS} connections (ms)`, stats(concBase.ms), `${f(tput(concBase), 0)} req/s`);
    row(
      `create approval, ${CONNS} connections (ms)`,
      stats(concLeash.ms),
      `${f(tput(concLeash), 0)} req/s = ${f(tput(concLeash) / tput(concBase), 2)} × baseline throughput`,
    );

    // 2. Decision → long-poll: the waiter is parked first; we time from sending the answer.
    const wake: number[] = [];
    const respond: number[] = [];
    const waitersL = client(`http://127.0.0.1:${leashPort}`, 20);
    await load(N_DECIDE, 10, async (i) => {
      const a = await post(L, '/v1/pause', ask(100_000 + i), agent.api_key);
      const id = a.json.pause_id;
      let woke = 0;
      const waiting = get(waitersL, `/v1/pause/${id}?wait=30`, agent.api_key).then((r) => {
        woke = performance.now();
        if (r.json.status !== 'responded') throw new Error(`long-poll returned ${r.json.status}`);
      });
      await new Promise((r) => setTimeout(r, 30));
      const t0 = performance.now();
      const d = await post(L, `/v1/pause/${id}/respond`, { choice: 'Approve' }, approver.api_key);
      respond.push(performance.now() - t0);
      if (d.status !== 200) throw new Error(`respond: ${d.status}`);
      await waiting;
      wake.push(woke - t0);
    });
    row('answer → respond returns (ms)', stats(respond));
    row('answer sent → waiting long-poll returns (ms)', stats(wake));

    // 3. Timeout lateness: spread over 2–12 s, then a burst due within about a second.
    const spreadIds: string[] = [];
    await load(N_TIMEOUT, 20, async (i) => {
      const r = await post(L, '/v1/pause', ask(200_000 + i, { timeout_seconds: 2 + (i % 11), timeout_default: 'Reject' }), agent.api_key);
      spreadIds.push(r.json.pause_id);
    });
    const burstStarted = Date.now();
    const burstIds: string[] = [];
    await load(N_TIMEOUT, CONNS, async (i) => {
      const r = await post(L, '/v1/pause', ask(300_000 + i, { timeout_seconds: 14 }), agent.api_key);
      burstIds.push(r.json.pause_id);
    });
    const burstWindow = (Date.now() - burstStarted) / 1000;
    await new Promise((r) => setTimeout(r, 16_500));
    const lateness = async (ids: string[]) => {
      const got = await db.selectFrom('approvals').select(['status', 'expires_at', 'response_at']).where('id', 'in', ids).execute();
      const pending = got.filter((g) => g.status !== 'timed_out').length;
      return { s: stats(got.filter((g) => g.response_at).map((g) => g.response_at!.getTime() - g.expires_at.getTime())), pending };
    };
    const spread = await lateness(spreadIds);
    const burst = await lateness(burstIds);
    row(`timeout lateness, ${N_TIMEOUT} spread over 2–12 s (ms)`, spread.s, spread.pending ? `${spread.pending} NOT timed out` : 'all timed out');
    row(`timeout lateness, ${N_TIMEOUT} due within ${f(burstWindow)} s (ms)`, burst.s, burst.pending ? `${burst.pending} NOT timed out` : 'all timed out');

    await Promise.all([L.close(), B.close(), waitersL.close()]);
  } finally {
    if (leash) await stopProcess(leash);
    if (baseline) await stopProcess(baseline);
    await db.destroy();
    await database.drop();
  }

  await report('approvals', 'Approvals benchmark', ['scenario', 'n', 'p50', 'p99', 'max', 'notes'], rows, QUICK);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
