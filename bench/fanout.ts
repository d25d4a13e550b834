// Webhook fan-out: deliveries per second from the outbox to local receivers, against a bare
// baseline (the same receivers, POSTed to directly by one process at the worker's concurrency), and
// the same again with one slow endpoint (2 s per answer) that must not slow the others.
// Leash runs as a real `all` process (web + worker) in a throwaway database.
//   npm run bench:fanout       BENCH_QUICK=1 for a short run
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { Pool } from 'undici';
import { operatorCtx } from '../src/context.js';
import { createDb, type Db } from '../src/db/index.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createEndpoint } from '../src/webhooks/endpoints.js';
import { createWorkspace } from '../src/workspaces/workspaces.js';
import { f, freePort, freshDatabase, load, report, startProcess, stopProcess, type Headline } from './support/lib.js';
import { DEPLOYED_NODE_FLAGS } from './support/leash.js';

const QUICK = process.env.BENCH_QUICK === '1';
const FAST = 10;
const EVENTS = QUICK ? 300 : 1_000;
const SLOW_MS = 2_000;
const CONCURRENCY = 32; // the worker's delivery concurrency

interface Sink {
  url: string;
  count: number;
  lastAt: number;
  close(): Promise<void>;
}

async function sink(delayMs = 0): Promise<Sink> {
  const s: Sink = { url: '', count: 0, lastAt: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const done = () => {
        s.count++;
        s.lastAt = performance.now();
        res.writeHead(204).end();
      };
      if (delayMs) setTimeout(done, delayMs);
      else done();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  s.close = () => new Promise((r) => server.close(() => r()));
  return s;
}

/** EVENTS outbox rows, committed at once, as state changes would write them; then the wake-up. */
async function emit(db: Db, workspaceId: string, n: number, tag: string): Promise<void> {
  await sql`insert into outbox (id, workspace_id, agent_id, type, payload)
            select gen_random_uuid(), ${workspaceId}, null, 'agent.paused',
                   json_build_object('type', 'agent.paused', 'timestamp', now(), 'data', json_build_object('run', ${tag}::text, 'n', s))
            from generate_series(1, ${n}) s`.execute(db);
  await sql`select pg_notify('leash', 'outbox')`.execute(db);
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

async function main() {
  const database = await freshDatabase('fanout');
  const db = createDb(database.url, { max: 4 });
  const port = await freePort();
  const prefix = `leash-bench-${randomBytes(3).toString('hex')}`;
  const rows: string[] = [];
  const headlines: Headline[] = [];
  const fast = await Promise.all(Array.from({ length: FAST }, () => sink()));
  const slow = await sink(SLOW_MS);
  let leash;
  try {
    await migrateToLatest(db);
    const ws = await createWorkspace(db, { name: 'Bench', ownerEmail: 'owner@example.com' });
    const ctx = operatorCtx(ws.workspace_id);
    for (const s of fast) await createEndpoint(db, ctx, { url: s.url, events: null }, { allowPrivateUrls: true });

    // Baseline: the same number of POSTs to the same receivers, straight from one process.
    const pools = fast.map((s) => new Pool(new URL(s.url).origin, { connections: Math.ceil(CONCURRENCY / FAST) + 1 }));
    const body = JSON.stringify({ type: 'agent.paused', timestamp: new Date().toISOString(), data: { n: 0 } });
    const total = EVENTS * FAST;
    const base = await load(total, CONCURRENCY, async (i) => {
      const res = await pools[i % FAST]!.request({
        method: 'POST',
        path: '/hook',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await res.body.dump();
    });
    await Promise.all(pools.map((p) => p.close()));
    const baseRate = (total / base.wallMs) * 1000;
    rows.push(
      `| bare POSTs to ${FAST} receivers, ${CONCURRENCY} in flight | ${total} | ${f(base.wallMs, 0)} ms | ${f(baseRate, 0)} POST/s | baseline |`,
    );
    for (const s of fast) s.count = 0;

    const env = {
      DATABASE_URL: database.url,
      NODE_ENV: 'production',
      LEASH_SECRET: 'bench-secret-of-at-least-32-bytes!',
      LOG_LEVEL: 'warn',
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      ALLOW_PRIVATE_URLS: 'true',
    };
    leash = await startProcess(
      'dist/src/main.js',
      ['all'],
      { ...env, PORT: String(port) },
      `http://127.0.0.1:${port}/healthz`,
      DEPLOYED_NODE_FLAGS,
    );

    const fanOut = async (label: string, withSlow: boolean) => {
      for (const s of [...fast, slow]) s.count = 0;
      const t0 = performance.now();
      await emit(db, ws.workspace_id, EVENTS, label);
      const ok = await until(() => fast.every((s) => s.count >= EVENTS), 120_000);
      const ms = Math.max(...fast.map((s) => s.lastAt)) - t0;
      const rate = ((EVENTS * FAST) / ms) * 1000;
      rows.push(
        `| fan-out ${EVENTS} events × ${FAST} endpoints${withSlow ? ` + 1 slow (${SLOW_MS / 1000} s per answer)` : ''} | ${EVENTS * FAST} | ${f(ms, 0)} ms | ${f(rate, 0)} deliveries/s = ${f(rate / baseRate, 2)} × baseline | ${ok ? 'all delivered' : 'NOT all delivered'}${withSlow ? `; slow endpoint got ${slow.count} meanwhile` : ''} |`,
      );
      return rate;
    };
    await fanOut('warm-up', false);
    rows.length = 1; // keep the baseline row, drop the warm-up
    // Alone and beside the slow endpoint, twice each, interleaved: runs drift by ±20 % here.
    const alone1 = await fanOut('alone-1', false);
    const slowEndpoint = await createEndpoint(db, ctx, { url: slow.url, events: null }, { allowPrivateUrls: true });
    const beside1 = await fanOut('beside-slow-1', true);
    await db
      .updateTable('webhook_endpoints')
      .set({ disabled_at: new Date(), disabled_reason: 'bench' })
      .where('id', '=', slowEndpoint.id)
      .execute();
    await db.updateTable('deliveries').set({ status: 'failed' }).where('status', '=', 'pending').execute();
    const alone2 = await fanOut('alone-2', false);
    await db
      .updateTable('webhook_endpoints')
      .set({ disabled_at: null, disabled_reason: null })
      .where('id', '=', slowEndpoint.id)
      .execute();
    const beside2 = await fanOut('beside-slow-2', true);
    const alone = (alone1 + alone2) / 2;
    const beside = (beside1 + beside2) / 2;
    rows.push(`| the fast endpoints' rate beside a slow one | | | ${f(beside / alone, 2)} × their rate alone | |`);
    headlines.push(
      {
        metric: 'webhook fan-out, 10 endpoints',
        value: `${f(alone, 0)} deliveries/s = ${f(alone / baseRate, 2)} × bare POSTs (${f(baseRate, 0)}/s)`,
        target: '≥ 1,000/s and ≥ 0.35 × bare POSTs',
        pass: alone >= 1_000 && alone / baseRate >= 0.35,
      },
      {
        metric: 'fan-out beside one slow endpoint (2 s per answer)',
        value: `${f(beside, 0)} deliveries/s = ${f(beside / alone, 2)} × alone`,
        target: 'not slowed (≥ 0.9 ×)',
        pass: beside / alone >= 0.9,
      },
    );
    // Let the slow endpoint's backlog finish before stopping (not timed).
    await db.updateTable('deliveries').set({ status: 'failed' }).where('status', '=', 'pending').execute();
  } finally {
    if (leash) await stopProcess(leash);
    for (const s of [...fast, slow]) await s.close();
    await db.destroy();
    await database.drop();
  }
  await report(
    'fanout',
    'Webhook fan-out benchmark',
    ['scenario', 'n', 'time', 'throughput', 'checks'],
    rows,
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
