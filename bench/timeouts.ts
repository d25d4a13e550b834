// Scenario 3, timeout lateness: expires_at → committed timed_out (response_at), for 10,000
// approvals spread over two minutes, then 1,000 created at once so that they fall due together.
// Then both again with 100,000 more approvals pending (due hours later). There is no bare baseline
// for lateness: the targets are absolute (p99 ≤ 10 ms, max ≤ 50 ms; issue 26).
//   npm run bench:timeouts       BENCH_QUICK=1 for a short run
import { sql } from 'kysely';
import { client, f, load, post, report, type Stats } from './support/lib.js';
import { lateness, untilSettled } from './support/lateness.js';
import { ask, QUICK, startLeash } from './support/leash.js';

const N_SPREAD = QUICK ? 2_000 : 10_000;
const SPREAD_S = QUICK ? 20 : 120;
const FIRST_DUE_S = QUICK ? 10 : 20; // after creating starts: creating 10,000 takes ~15 s
const N_BURST = 1_000;
const N_PENDING = QUICK ? 20_000 : 100_000;
const N_SPREAD_P = QUICK ? 1_000 : 3_000;
const SPREAD_P_S = QUICK ? 15 : 40;
const CONNS = 50;

async function main() {
  const leash = await startLeash('timeouts');
  const rows: string[] = [];
  const row = (name: string, s: Stats, extra = '') =>
    rows.push(`| ${name} | ${s.n} | ${f(s.p50, 0)} | ${f(s.p99, 0)} | ${f(s.max, 0)} | ${extra} |`);
  const headlines = [];
  try {
    const L = client(leash.origin, CONNS);
    const create = async (i: number, timeout: number, ids: string[]) => {
      const r = await post(
        L,
        '/v1/pause',
        ask(i, { timeout_seconds: timeout, timeout_default: 'Reject' }),
        leash.agent.key,
      );
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
      ids.push(r.json.pause_id);
    };

    // Spread: due evenly over SPREAD_S seconds, starting FIRST_DUE_S after creating begins.
    const spread: string[] = [];
    await load(N_SPREAD, CONNS, (i) => create(i, FIRST_DUE_S + Math.floor((i * SPREAD_S) / N_SPREAD), spread));
    await untilSettled(leash, spread, Date.now() + (FIRST_DUE_S + SPREAD_S + 30) * 1000);
    const a = await lateness(leash, spread);
    row(`${N_SPREAD} due over ${SPREAD_S} s (ms)`, a.s, a.pending ? `${a.pending} NOT timed out` : 'all timed out');

    // Burst: 1,000 with the same timeout, created as fast as the API takes them.
    const burst: string[] = [];
    const t0 = Date.now();
    await load(N_BURST, CONNS, (i) => create(100_000 + i, 5, burst));
    const window = (Date.now() - t0) / 1000;
    await untilSettled(leash, burst, Date.now() + 40_000);
    const b = await lateness(leash, burst);
    row(`${N_BURST} due within ${f(window)} s (ms)`, b.s, b.pending ? `${b.pending} NOT timed out` : 'all timed out');

    // The same with 100,000 approvals pending (due in 1 to 25 hours, seeded by SQL): the sweep and
    // the timers must not slow with what waits beyond the horizon.
    await sql`insert into approvals (id, workspace_id, agent_id, requested_by, channel, recipient, message, options,
        allow_text_response, timeout_default, status, expires_at)
      select gen_random_uuid(), ${leash.workspaceId}, ${leash.agent.id}, '{"type":"agent","id":null,"display":"bench"}'::jsonb,
        'web', 'alice@example.com', 'Pending #' || g, '["Approve","Reject"]'::jsonb, false, 'Reject', 'pending',
        now() + interval '1 hour' + g * interval '864 milliseconds'
      from generate_series(1, ${N_PENDING}) g`.execute(leash.db);
    await sql`analyze approvals`.execute(leash.db);
    const spreadP: string[] = [];
    await load(N_SPREAD_P, CONNS, (i) =>
      create(200_000 + i, FIRST_DUE_S + Math.floor((i * SPREAD_P_S) / N_SPREAD_P), spreadP),
    );
    await untilSettled(leash, spreadP, Date.now() + (FIRST_DUE_S + SPREAD_P_S + 30) * 1000);
    const c = await lateness(leash, spreadP);
    row(
      `${N_SPREAD_P} due over ${SPREAD_P_S} s, ${N_PENDING} more pending (ms)`,
      c.s,
      c.pending ? `${c.pending} NOT timed out` : 'all timed out',
    );
    const burstP: string[] = [];
    const t1 = Date.now();
    await load(N_BURST, CONNS, (i) => create(300_000 + i, 5, burstP));
    const windowP = (Date.now() - t1) / 1000;
    await untilSettled(leash, burstP, Date.now() + 40_000);
    const d = await lateness(leash, burstP);
    row(
      `${N_BURST} due within ${f(windowP)} s, ${N_PENDING} more pending (ms)`,
      d.s,
      d.pending ? `${d.pending} NOT timed out` : 'all timed out',
    );

    for (const [name, x] of [
      ['spread', a],
      ['burst', b],
      [`spread, ${N_PENDING} pending`, c],
      [`burst, ${N_PENDING} pending`, d],
    ] as const) {
      headlines.push(
        {
          metric: `timeout lateness p99, ${name}`,
          value: `${f(x.s.p99, 0)} ms`,
          target: '≤ 10 ms',
          pass: x.s.p99 <= 10 && x.pending === 0,
        },
        {
          metric: `timeout lateness max, ${name}`,
          value: `${f(x.s.max, 0)} ms`,
          target: '≤ 50 ms',
          pass: x.s.max <= 50 && x.pending === 0,
        },
      );
    }
    await L.close();
  } finally {
    await leash.stop();
  }
  await report(
    'timeouts',
    'Timeout lateness benchmark',
    ['scenario', 'n', 'p50', 'p99', 'max', 'notes'],
    rows,
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
