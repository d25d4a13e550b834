// Scenario 8, embedded mode beside queue mode in the same run: approval create at 50 connections
// and decision → agent at 100/s in each; timeout lateness in embedded mode (its in-process
// scheduler); and embedded start-up time on a fresh data dir and on an existing one.
//   npm run bench:modes       BENCH_QUICK=1 for a short run
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, f, load, post, report, stats, type Stats } from './support/lib.js';
import { decideAll, PARK_AHEAD_MS, RATE } from './support/decisions.js';
import { lateness, untilSettled } from './support/lateness.js';
import { ask, QUICK, startEmbeddedLeash, startLeash, type BenchLeash, type BenchMode } from './support/leash.js';

const N_CREATE = QUICK ? 2_000 : 6_000;
const N_DECIDE = QUICK ? 300 : 1_000;
const WARMUP = QUICK ? 100 : 300;
const N_TIMERS = QUICK ? 500 : 2_000;
const TIMERS_OVER_S = QUICK ? 10 : 20;
const CONNS = 50;

interface ModeRun {
  createPerS: number;
  create: Stats;
  poll: Stats;
}

async function createAndDecide(leash: BenchLeash): Promise<ModeRun> {
  const L = client(leash.origin, CONNS);
  const waiters = client(leash.origin, Math.ceil((RATE * PARK_AHEAD_MS) / 1000) + 50);
  const create = async (i: number) => {
    const r = await post(L, '/v1/pause', ask(i), leash.agent.key);
    if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json.pause_id as string;
  };
  const createOnly = async (i: number) => void (await create(i));
  await load(500, 10, createOnly);
  const created = await load(N_CREATE, CONNS, createOnly);
  const ids: string[] = [];
  for (let i = 0; i < WARMUP + N_DECIDE; i++) ids.push(await create(N_CREATE + i));
  await decideAll(leash, L, waiters, ids.slice(0, WARMUP));
  const { pollMs } = await decideAll(leash, L, waiters, ids.slice(WARMUP));
  await Promise.all([L.close(), waiters.close()]);
  return { createPerS: (created.ms.length / created.wallMs) * 1000, create: stats(created.ms), poll: stats(pollMs) };
}

/** Approvals due evenly over TIMERS_OVER_S seconds: expires_at → committed timed_out. */
async function timerLateness(leash: BenchLeash): Promise<Stats> {
  const L = client(leash.origin, CONNS);
  const ids: string[] = [];
  await load(N_TIMERS, CONNS, async (i) => {
    const extra = { timeout_seconds: 5 + Math.floor((i * TIMERS_OVER_S) / N_TIMERS), timeout_default: 'Reject' };
    const r = await post(L, '/v1/pause', ask(i, extra), leash.agent.key);
    ids.push(r.json.pause_id);
  });
  await L.close();
  await untilSettled(leash, ids, Date.now() + (TIMERS_OVER_S + 40) * 1000);
  return (await lateness(leash, ids)).s;
}

/** Spawn to the first healthy answer, on a fresh data dir and then on the same dir again. */
async function startUp(): Promise<{ fresh: number; existing: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'leash-bench-startup-'));
  chmodSync(dir, 0o755);
  try {
    let t0 = performance.now();
    const first = await startEmbeddedLeash({}, dir);
    const fresh = performance.now() - t0;
    await first.stop();
    t0 = performance.now();
    const again = await startEmbeddedLeash({}, dir);
    const existing = performance.now() - t0;
    await again.stop();
    return { fresh, existing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function inMode(mode: BenchMode): Promise<ModeRun & { timers?: Stats }> {
  const leash = await startLeash(`modes_${mode}`, {}, mode);
  try {
    const run = await createAndDecide(leash);
    return mode === 'embedded' ? { ...run, timers: await timerLateness(leash) } : run;
  } finally {
    await leash.stop();
  }
}

async function main() {
  const queue = await inMode('queue');
  const embedded = await inMode('embedded');
  const boot = await startUp();
  const rows: string[] = [];
  const row = (name: string, q: string, e: string, ratio: string) => rows.push(`| ${name} | ${q} | ${e} | ${ratio} |`);
  const createRatio = embedded.createPerS / queue.createPerS;
  const pollRatio = queue.poll.p99 / embedded.poll.p99;
  row(`create, ${CONNS} connections (req/s)`, f(queue.createPerS, 0), f(embedded.createPerS, 0), f(createRatio, 2));
  row(`create p99 (ms)`, f(queue.create.p99), f(embedded.create.p99), '');
  row(`decision → long-poll p50 at ${RATE}/s (ms)`, f(queue.poll.p50), f(embedded.poll.p50), '');
  row(`decision → long-poll p99 at ${RATE}/s (ms)`, f(queue.poll.p99), f(embedded.poll.p99), f(pollRatio, 2));
  const t = embedded.timers!;
  row(
    `timeout lateness, ${N_TIMERS} over ${TIMERS_OVER_S} s (ms)`,
    '',
    `p50 ${f(t.p50, 0)}, p99 ${f(t.p99, 0)}, max ${f(t.max, 0)}`,
    '',
  );
  row('embedded start-up, fresh data dir (ms)', '', f(boot.fresh, 0), '');
  row('embedded start-up, existing data dir (ms)', '', f(boot.existing, 0), '');
  await report(
    'modes',
    'Embedded mode beside queue mode',
    ['measure', 'queue mode', 'embedded mode', 'embedded ÷ queue (higher is better)'],
    rows,
    QUICK,
    [
      {
        metric: 'embedded create throughput',
        value: `${f(createRatio, 2)} × queue mode`,
        target: '≥ 0.8 ×',
        pass: createRatio >= 0.8,
      },
      {
        metric: 'embedded decision → long-poll p99',
        value: `${f(pollRatio, 2)} × queue mode (${f(embedded.poll.p99)} vs ${f(queue.poll.p99)} ms)`,
        target: '≥ 0.8 ×',
        pass: pollRatio >= 0.8,
      },
      { metric: 'embedded timeout lateness p99', value: `${f(t.p99, 0)} ms`, target: '≤ 20 ms', pass: t.p99 <= 20 },
      {
        metric: 'embedded start-up, fresh',
        value: `${f(boot.fresh / 1000, 2)} s`,
        target: '≤ 5 s',
        pass: boot.fresh <= 5_000,
      },
      {
        metric: 'embedded start-up, existing',
        value: `${f(boot.existing / 1000, 2)} s`,
        target: '≤ 2 s',
        pass: boot.existing <= 2_000,
      },
    ],
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
