// Growth: does the cost stay flat as the data grows? Two Leashes in the same run — one on a database
// with only the bench workspace's agents, one on a year of a busy deployment (bench/support/
// growth-seed.ts: 1,000,000 approvals, 1,000,000 timeline rows, 10,000 agents in 100 workspaces,
// 2,000,000 messages, 1,000,000 events, 200,000 deliveries) — run the hot operations one at a time,
// and the sweep's and clean-up's statements are timed one by one, the slow ones EXPLAINed.
//   npm run bench:growth       BENCH_QUICK=1: a tenth of the rows
import { sql, Kysely, PostgresDialect, type LogEvent } from 'kysely';
import pg from 'pg';
import { cleanUp } from '../jobs/clean-up.js';
import type { Scheduler } from '../jobs/scheduler.js';
import { sweeper } from '../jobs/sweep.js';
import { overview } from '../src/agents/overview.js';
import { buildDeps, closeDeps } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { DB } from '../src/db/schema.js';
import { createDb, pgConfig, type Db } from '../src/db/index.js';
import { client, f, get, load, post, report, stats, stopProcess, type Stats } from './support/lib.js';
import { FULL, QUICK_SCALE, seedAgents, seedHistory } from './support/growth-seed.js';
import { ask, QUICK, startLeash, type BenchLeash } from './support/leash.js';
import { decideAll } from './support/decisions.js';

const N = QUICK ? 150 : 400;
const SCALE = QUICK ? QUICK_SCALE : FULL;
const TARGET = 1.5;
const STATEMENT_TARGET_MS = 50;

type Op = 'create' | 'decide' | 'pending' | 'timeline' | 'sync' | 'pause' | 'status';
const OPS: Record<Op, string> = {
  create: 'approval create (POST /v1/pause)',
  decide: 'decision → long-poll at 100/s',
  pending: 'list pending (GET /v1/pause?status=pending)',
  timeline: 'timeline page (GET /v1/agents/:id/activity)',
  sync: 'inbox sync (GET /v1/messages)',
  pause: 'agent pause + unpause (POST …/pause, …/unpause)',
  status: '`leash status --workspace` (its query)',
};

async function measure(leash: BenchLeash): Promise<Record<Op, number[]>> {
  const L = client(leash.origin, 8);
  const W = client(leash.origin, 200);
  const key = leash.agent.key;
  const seq = async (n: number, task: (i: number) => Promise<void>) => {
    await load(Math.min(50, n), 1, task); // warm the path
    return (await load(n, 1, task)).ms;
  };
  try {
    const create = await seq(N, async (i) => {
      const r = await post(L, '/v1/pause', ask(i), key);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    });
    const ids: string[] = [];
    for (let i = 0; i < N + 300; i++) ids.push((await post(L, '/v1/pause', ask(i), key)).json.pause_id);
    await decideAll(leash, L, W, ids.slice(0, 300)); // unmeasured: compiles the path
    const decide = (await decideAll(leash, L, W, ids.slice(300))).pollMs;
    const pending = await seq(N, async () => {
      const r = await get(L, '/v1/pause?status=pending&limit=50', leash.ownerKey);
      if (r.status !== 200) throw new Error(`pending: ${r.status}`);
    });
    const timeline = await seq(N, async () => {
      const r = await get(L, `/v1/agents/${leash.agent.id}/activity?limit=50`, leash.ownerKey);
      if (r.status !== 200) throw new Error(`timeline: ${r.status}`);
    });
    const sync = await seq(N, async () => {
      const r = await get(L, '/v1/messages?limit=100', key);
      if (r.status !== 200) throw new Error(`sync: ${r.status}`);
    });
    const pause = await seq(N, async () => {
      const p = await post(L, `/v1/agents/${leash.agent.id}/pause`, { mode: 'send', reason: 'bench' }, leash.ownerKey);
      const u = await post(L, `/v1/agents/${leash.agent.id}/unpause`, {}, leash.ownerKey);
      if (p.status !== 200 || u.status !== 200) throw new Error(`pause: ${p.status} ${u.status}`);
    });
    const status = await seq(Math.round(N / 4), async () => {
      await overview(leash.db, leash.workspaceId);
    });
    return { create, decide, pending, timeline, sync, pause, status };
  } finally {
    await Promise.all([L.close(), W.close()]);
  }
}

interface Timed {
  sql: string;
  parameters: readonly unknown[];
  ms: number;
}

/** A Kysely on `url` that records every statement and its time. */
function recordingDb(url: string, into: Timed[]): Db {
  return new Kysely<DB>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ ...pgConfig(url), max: 2 }) }),
    log(event: LogEvent) {
      into.push({ sql: event.query.sql, parameters: event.query.parameters, ms: event.queryDurationMillis });
    },
  });
}

/** Never runs anything: the sweep's arming is timed as statements, its jobs are not the point. */
const idleScheduler: Scheduler = {
  ready: true,
  arm: async () => {},
  hurry: async () => {},
  pacing: { pace: async () => {}, budget: async () => {} },
  start: async () => {},
  armedAll: async () => {},
  check: async () => {},
  depths: async () => ({}) as Awaited<ReturnType<Scheduler['depths']>>,
  close: async () => {},
};

class RolledBack extends Error {}

/** EXPLAIN (ANALYZE, BUFFERS) of each statement, inside a transaction rolled back after it. */
async function explainAll(url: string, statements: Map<string, Timed>) {
  const plans = new Map<string, string>();
  const pgc = new pg.Client(pgConfig(url));
  await pgc.connect();
  try {
    for (const [text, t] of statements) {
      if (/^(begin|commit|rollback|savepoint|release)/i.test(text.trim())) continue;
      await pgc.query('begin');
      try {
        const r = await pgc.query(`explain (analyze, buffers, costs off) ${text}`, t.parameters as unknown[]);
        plans.set(text, r.rows.map((x) => x['QUERY PLAN']).join('\n'));
      } catch (err) {
        plans.set(text, `(not explained: ${(err as Error).message})`);
      } finally {
        await pgc.query('rollback');
      }
    }
  } finally {
    await pgc.end();
  }
  return plans;
}

/** The sweep's and the clean-up's statements on `url`: first their plans with the tables full (one
 *  sweep and one batch of each clean-up part, rolled back, then EXPLAINed), then their times over
 *  a real clean-up of everything past retention and two sweeps. */
async function sweepStatements(url: string) {
  const timed: Timed[] = [];
  const db = recordingDb(url, timed);
  const config = loadConfig({ ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent', NODE_ENV: 'test' });
  const deps = buildDeps({ ...config, databaseUrl: url, secret: 'bench-secret-of-at-least-32-bytes!' });
  const retention = deps.config.cleanup;
  const deleted: Record<string, number> = {};
  const sweepOn = (on: Db) =>
    sweeper({ ...deps, db: on }, idleScheduler, { until: 0, at: 0 }, 600_000, (err) => {
      throw err;
    });
  try {
    await db
      .transaction()
      .execute(async (tx) => {
        await cleanUp(tx, retention, 0);
        await sweepOn(tx)();
        throw new RolledBack();
      })
      .catch((err) => {
        if (!(err instanceof RolledBack)) throw err;
      });
    const first = new Map<string, Timed>();
    for (const t of timed) if (!first.has(t.sql)) first.set(t.sql, t);
    const plans = await explainAll(url, first);
    timed.length = 0;

    const t0 = performance.now();
    for (let more = true; more;) {
      const d = await cleanUp(db, retention, 60_000);
      for (const [k, v] of Object.entries(d)) deleted[k] = (deleted[k] ?? 0) + v;
      more = Object.values(d).some((n) => n >= retention.batch);
    }
    const cleanupS = (performance.now() - t0) / 1000;
    const sweep = sweepOn(db);
    await sweep();
    await sweep();
    const bySql = new Map<string, number[]>();
    for (const t of timed) bySql.set(t.sql, [...(bySql.get(t.sql) ?? []), t.ms]);
    const explained = [...bySql].map(([text, ms]) => {
      const st = stats(ms);
      return { sql: text, calls: ms.length, ms: st.max, p50: st.p50, plan: plans.get(text) ?? '' };
    });
    return { explained: explained.sort((a, b) => b.ms - a.ms), deleted, cleanupS };
  } finally {
    await closeDeps(deps);
    await db.destroy();
  }
}

const retention = () => {
  const c = loadConfig({ DATABASE_URL: 'postgres://x/y' }).cleanup;
  return `batches of ${c.batch.toLocaleString('en')}`;
};
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
/** The access paths of a plan: how each table is read. */
const paths = (plan: string) =>
  [
    ...new Set(
      plan.match(/(Index Only Scan|Index Scan|Bitmap Heap Scan|Seq Scan|Tid Scan)( using \w+)? on \w+/g) ?? [],
    ),
  ].join('; ');

async function main() {
  // No clean-up while the operations are measured: it is timed apart, below.
  const quiet = { CLEANUP_INTERVAL_SECONDS: '86400' };
  const empty = await startLeash('growth_empty', quiet);
  let grown: BenchLeash | undefined;
  const rows: string[] = [];
  const statementRows: string[] = [];
  const headlines = [];
  let sizes = '';
  try {
    await seedAgents(empty.db, empty.workspaceId, SCALE, false);
    // The bench agent's inbox, as in the grown database: two unread messages.
    await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
      select gen_random_uuid(), ${empty.workspaceId}, ${empty.agent.id}, ${empty.agent.id}, s, '{"text":"hello"}'
      from generate_series(1, 2) s`.execute(empty.db);
    await sql`update agents set inbox_seq = 2 where id = ${empty.agent.id}`.execute(empty.db);

    grown = await startLeash('growth_year', quiet);
    const seeding = createDb(grown.databaseUrl, { max: 1 });
    const t0 = performance.now();
    await seedAgents(seeding, grown.workspaceId, SCALE, true);
    const took = await seedHistory(seeding, SCALE);
    await seeding.destroy();
    const seedS = (performance.now() - t0) / 1000;
    const counted = await sql<{ t: string; n: string }>`select relname as t, n_live_tup as n from pg_stat_user_tables
      where relname in ('approvals','activity','messages','outbox','deliveries','agents','inbound_requests') order by relname`.execute(
      grown.db,
    );
    sizes = counted.rows.map((r) => `${r.t} ${Number(r.n).toLocaleString('en')}`).join(', ');
    const tookText = Object.entries(took)
      .map(([k, v]) => `${k} ${f(v, 1)} s`)
      .join(', ');
    console.log(`seeded in ${f(seedS, 0)} s (${tookText}): ${sizes}`);

    // Its writes checkpointed first, so the grown run does not pay for the seeding's.
    await sql`checkpoint`.execute(grown.db);
    // In ABBA order, so that neither side always runs on the warmer or the busier machine.
    const skip = process.env.BENCH_GROWTH_OPS === '0';
    const runs = skip
      ? [empty, grown, grown, empty].map(
          () => Object.fromEntries(Object.keys(OPS).map((op) => [op, [0]])) as Record<Op, number[]>,
        )
      : [await measure(empty), await measure(grown), await measure(grown), await measure(empty)];
    const both = (x: Record<Op, number[]>, y: Record<Op, number[]>) =>
      Object.fromEntries((Object.keys(OPS) as Op[]).map((op) => [op, stats([...x[op], ...y[op]])])) as Record<
        Op,
        Stats
      >;
    const a = both(runs[0]!, runs[3]!);
    const b = both(runs[1]!, runs[2]!);
    for (const op of Object.keys(OPS) as Op[]) {
      const ratio = b[op].p99 / a[op].p99;
      rows.push(
        `| ${OPS[op]} | ${f(a[op].p50)} / ${f(a[op].p99)} | ${f(b[op].p50)} / ${f(b[op].p99)} | ${f(ratio, 2)} × |`,
      );
      headlines.push({
        metric: `${OPS[op]}: a year of data vs empty, p99`,
        value: `${f(b[op].p99)} vs ${f(a[op].p99)} ms = ${f(ratio, 2)} ×`,
        target: `≤ ${TARGET} × empty`,
        pass: ratio <= TARGET,
      });
    }
    rows.push('', `Seeded by SQL in ${f(seedS, 0)} s (${tookText}).`);

    // The sweep's and clean-up's statements on the year of data, with its Leash stopped (no
    // worker races them); the first clean-up deletes eleven months of messages, events and deliveries.
    await stopProcess(grown.process);
    const { explained, deleted, cleanupS } = await sweepStatements(grown.databaseUrl);
    const isCleanup = (e: (typeof explained)[number]) => /^with deleted as/.test(e.sql.trim());
    const sweepOnly = explained.filter((e) => !isCleanup(e));
    const cleanupOnly = explained.filter(isCleanup);
    const slowestSweep = Math.max(0, ...sweepOnly.map((e) => e.ms));
    const worstP50 = Math.max(0, ...cleanupOnly.map((e) => e.p50));
    const worstMax = Math.max(0, ...cleanupOnly.map((e) => e.ms));
    headlines.push(
      {
        metric: 'slowest sweep statement on a year of data',
        value: `${f(slowestSweep)} ms (${sweepOnly.length} statements)`,
        target: `≤ ${STATEMENT_TARGET_MS} ms each`,
        pass: slowestSweep <= STATEMENT_TARGET_MS,
      },
      {
        metric: 'clean-up catching up on eleven months, per statement',
        value: `p50 ≤ ${f(worstP50)} ms, slowest ${f(worstMax)} ms (deleted ${Object.entries(deleted)
          .map(([k, v]) => `${v.toLocaleString('en')} ${k}`)
          .join(', ')} in ${f(cleanupS, 1)} s, ${retention()})`,
        target: `≤ ${STATEMENT_TARGET_MS} ms each`,
        pass: worstMax <= STATEMENT_TARGET_MS,
      },
    );
    statementRows.push(
      '',
      '| sweep / clean-up statement | calls | p50 ms | slowest ms | how each table is read |',
      '| --- | --- | --- | --- | --- |',
      ...explained.map(
        (e) =>
          `| \`${oneLine(e.sql).slice(0, 110).replace(/\|/g, '\\|')}…\` | ${e.calls} | ${f(e.p50)} | ${f(e.ms)} | ${paths(e.plan) || '—'} |`,
      ),
      '',
      'The slowest three, EXPLAIN (ANALYZE, BUFFERS) with the tables full (before the first clean-up):',
      '',
      ...explained.slice(0, 3).flatMap((e) => ['```', oneLine(e.sql).slice(0, 300), e.plan, '```', '']),
    );
  } finally {
    await empty.stop();
    await grown?.stop();
  }
  rows.push(
    '',
    `Grown database: ${sizes}. ${N} of each operation, one at a time (decisions at 100/s), twice on each database in the order empty, grown, grown, empty.`,
  );
  await report(
    'growth',
    'Growth: a year of data beside an empty database',
    ['operation', 'empty p50 / p99 ms', 'a year of data p50 / p99 ms', 'p99 ratio'],
    [...rows, ...statementRows],
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
