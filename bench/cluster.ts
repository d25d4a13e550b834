// Across processes: the same work on one `all` process and on 2 `web` + 2 `worker` processes (queue
// mode, one Postgres, one Redis), clients spread over the web processes. Each process is pinned to
// a core set with taskset (`all` to both cores; in 2+2, one web and one worker per core). This box
// has 2 cores shared with Postgres, Redis and the load generator, so throughput cannot grow with
// processes here; the figure that carries over is CPU per operation, per process, beside it.
//   npm run bench:cluster      BENCH_QUICK=1 for a short run
import { execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import type { Pool } from 'undici';
import { createDb, type Db } from '../src/db/index.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { operatorCtx } from '../src/context.js';
import { createEndpoint } from '../src/webhooks/endpoints.js';
import {
  client,
  cpuMeter,
  cpuSecondsOf,
  f,
  freePort,
  freshDatabase,
  load,
  post,
  report,
  startProcess,
  stopProcess,
} from './support/lib.js';
import { ask, benchEnv, DEPLOYED_NODE_FLAGS, QUICK, seed } from './support/leash.js';

const CREATES = QUICK ? 2_000 : 8_000;
const DECISIONS = QUICK ? 1_000 : 4_000;
const EVENTS = QUICK ? 300 : 1_000;
const ENDPOINTS = 10;
const CONNS = 50;

type Role = 'all' | 'web' | 'worker';
interface Proc {
  role: Role;
  cores: string;
  child: ChildProcess;
  origin?: string;
}

const TOPOLOGIES: { name: string; procs: [Role, string][] }[] = [
  { name: '1 all', procs: [['all', '0,1']] },
  {
    name: '2 web + 2 worker',
    procs: [
      ['web', '0'],
      ['web', '1'],
      ['worker', '0'],
      ['worker', '1'],
    ],
  },
];

function pin(pid: number, cores: string): void {
  try {
    execFileSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
  } catch {
    /* no taskset: unpinned */
  }
}

async function startTopology(url: string, prefix: string, roles: [Role, string][]): Promise<Proc[]> {
  const procs: Proc[] = [];
  for (const [role, cores] of roles) {
    const port = await freePort();
    const env = {
      ...benchEnv(port),
      QUEUE_PREFIX: prefix,
      DATABASE_URL: url,
      REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      ...(role === 'worker' ? { METRICS_PORT: String(port) } : {}),
    };
    const child = await startProcess(
      'dist/src/main.js',
      [role],
      env,
      `http://127.0.0.1:${port}/readyz`,
      DEPLOYED_NODE_FLAGS,
    );
    pin(child.pid!, cores);
    procs.push({ role, cores, child, ...(role === 'worker' ? {} : { origin: `http://127.0.0.1:${port}` }) });
  }
  return procs;
}

async function sinks(n: number) {
  let count = 0;
  const servers = await Promise.all(
    Array.from({ length: n }, async () => {
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          count++;
          res.writeHead(204).end();
        });
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return server;
    }),
  );
  return {
    urls: servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/hook`),
    count: () => count,
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))),
  };
}

/** CPU ms per operation: each Leash process, all of them together, and Postgres and Redis. */
function meter(procs: Proc[]) {
  const start = procs.map((p) => cpuSecondsOf(p.child.pid!));
  const services = cpuMeter(procs[0]!.child.pid!);
  return (ops: number) => {
    const each = procs.map((p, i) => ((cpuSecondsOf(p.child.pid!) - start[i]!) * 1000) / ops);
    const s = services(ops);
    return {
      each: procs.map((p, i) => `${p.role}@${p.cores} ${f(each[i]!, 2)}`).join(', '),
      leash: each.reduce((a, b) => a + b, 0),
      postgres: s.postgres,
      redis: s.redis,
    };
  };
}

async function run(topology: (typeof TOPOLOGIES)[number]) {
  const database = await freshDatabase('cluster');
  const db: Db = createDb(database.url, { max: 4 });
  const hooks = await sinks(ENDPOINTS);
  let procs: Proc[] = [];
  try {
    await migrateToLatest(db);
    const seeded = await seed(db);
    procs = await startTopology(database.url, `leash-bench-cluster-${Date.now()}`, topology.procs);
    const webs = procs.filter((p) => p.origin).map((p) => client(p.origin!, CONNS));
    const pick = (i: number): Pool => webs[i % webs.length]!;
    const tput = (n: number, ms: number) => (n / ms) * 1000;

    // Create: approvals at 50 connections, round-robin over the web processes.
    const create = async (i: number) => {
      const r = await post(pick(i), '/v1/pause', ask(i), seeded.agent.key);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    };
    await load(500, 10, create);
    let cpu = meter(procs);
    const created = await load(CREATES, CONNS, create);
    const createRow = [tput(CREATES, created.wallMs), cpu(CREATES)] as const;

    // Decide: pending approvals answered at 50 connections, spread the same way.
    const ids = (
      await sql<{
        id: string;
      }>`select id from approvals where status = 'pending' order by id limit ${DECISIONS}`.execute(db)
    ).rows.map((r) => r.id);
    cpu = meter(procs);
    const decided = await load(ids.length, CONNS, async (i) => {
      const r = await post(pick(i), `/v1/pause/${ids[i]}/respond`, { choice: 'Approve' }, seeded.approverKey);
      if (r.status !== 200) throw new Error(`respond: ${r.status}`);
    });
    const decideRow = [tput(ids.length, decided.wallMs), cpu(ids.length)] as const;

    // Fan-out: EVENTS events to ENDPOINTS endpoints, committed at once; deliveries per second.
    const ctx = operatorCtx(seeded.workspaceId);
    for (const url of hooks.urls)
      await createEndpoint(db, ctx, { url, events: ['agent.paused'] }, { allowPrivateUrls: true });
    // Deliveries of the decisions above may still run: wait for quiet first.
    for (let last = -1; last !== hooks.count();) {
      last = hooks.count();
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const before = hooks.count();
    cpu = meter(procs);
    const t0 = performance.now();
    await sql`insert into outbox (id, workspace_id, agent_id, type, payload)
      select gen_random_uuid(), ${seeded.workspaceId}, null, 'agent.paused',
        json_build_object('type', 'agent.paused', 'timestamp', now(), 'data', json_build_object('n', s))
      from generate_series(1, ${EVENTS}) s`.execute(db);
    await sql`select pg_notify('leash', 'outbox')`.execute(db);
    const want = before + EVENTS * ENDPOINTS;
    while (hooks.count() < want && performance.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 20));
    const fanRow = [tput(hooks.count() - before, performance.now() - t0), cpu(EVENTS * ENDPOINTS)] as const;
    await Promise.all(webs.map((w) => w.close()));
    return { create: createRow, decide: decideRow, fanout: fanRow };
  } finally {
    for (const p of procs) await stopProcess(p.child);
    await hooks.close();
    await db.destroy();
    await database.drop();
  }
}

async function main() {
  const results = [];
  for (const topology of TOPOLOGIES) {
    console.log(`--- ${topology.name}`);
    results.push({ name: topology.name, r: await run(topology) });
  }
  const rows: string[] = [];
  const base = results[0]!.r;
  const headlines = [];
  for (const op of ['create', 'decide', 'fanout'] as const) {
    for (const { name, r } of results) {
      const [tp, cpu] = r[op];
      rows.push(
        `| ${op} | ${name} | ${f(tp, 0)} /s | ${f(tp / base[op][0], 2)} × | ${f(cpu.leash, 2)} | ${f(cpu.postgres, 2)} | ${f(cpu.redis, 2)} | ${cpu.each} |`,
      );
    }
    const [two, cpu2] = results[1]!.r[op];
    headlines.push({
      metric: `${op}: 2 web + 2 worker vs 1 all, on 2 cores`,
      value: `${f(two, 0)} vs ${f(base[op][0], 0)} /s = ${f(two / base[op][0], 2)} ×; Leash CPU per operation ${f(cpu2.leash, 2)} vs ${f(base[op][1].leash, 2)} ms`,
    });
  }
  await report(
    'cluster',
    'Across processes: 1 all vs 2 web + 2 worker',
    [
      'work',
      'processes',
      'throughput',
      'vs 1 all',
      'Leash CPU ms / op',
      'Postgres CPU ms / op',
      'Redis CPU ms / op',
      'per process (role@cores)',
    ],
    rows,
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
