// Messages: the accept rate to a fully paused agent (against a bare Fastify+pg INSERT baseline),
// cap exactness under 20 concurrent senders, and the drain of 10,000 held messages on unpause over
// the WebSocket stream, long-poll sync and delivery_url, checked for gaps and reorders (delivery_url
// against a bare drain: bench/support/bare-drain.mjs). Leash runs as a real `all` process (web +
// worker) in a throwaway database; the baselines run beside it.
//   npm run bench:messages       BENCH_QUICK=1 for a short run
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import WebSocket from 'ws';
import { createAgent } from '../src/agents/registry.js';
import { operatorCtx } from '../src/context.js';
import { createDb, type Db } from '../src/db/index.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createWorkspace } from '../src/workspaces/workspaces.js';
import {
  client,
  cpuMeter,
  f,
  freePort,
  freshDatabase,
  get,
  load,
  report,
  post,
  startProcess,
  stats,
  stopProcess,
  type Headline,
} from './support/lib.js';
import { DEPLOYED_NODE_FLAGS } from './support/leash.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_ACCEPT = QUICK ? 1_000 : 5_000;
const CONNS = 50;
const HELD = QUICK ? 2_000 : 10_000;
const CAP = 10_000;

const rows: string[] = [];
const headlines: Headline[] = [];
const row = (cells: (string | number)[]) => rows.push(`| ${cells.join(' | ')} |`);

/** Checks a delivery order: every seq 1..n seen (gaps = missing ones), reorders = an arrival
 *  lower than one already seen (repeats counted apart: delivery is at least once). */
function audit(seqs: number[], n: number) {
  const seen = new Set<number>();
  let reorders = 0;
  let repeats = 0;
  let high = 0;
  for (const s of seqs) {
    if (seen.has(s)) repeats++;
    else if (s < high) reorders++;
    seen.add(s);
    high = Math.max(high, s);
  }
  let gaps = 0;
  for (let i = 1; i <= n; i++) if (!seen.has(i)) gaps++;
  return { gaps, reorders, repeats };
}

/** CPU per message of the drain's process, Postgres and the receiver (this process): one drain
 *  posts one message at a time, so its own CPU per message bounds its rate. */
function cpuPerMessage(c: { server: number; postgres: number; client: number }): string {
  return `CPU per message: drain ${f(c.server, 2)}, Postgres ${f(c.postgres, 2)}, receiver ${f(c.client, 2)} ms`;
}

async function hold(db: Db, workspaceId: string, recipientId: string, senderId: string, n: number) {
  await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
            select gen_random_uuid(), ${workspaceId}, ${recipientId}, ${senderId}, s, json_build_object('n', s, 'pad', repeat('x', 200))
            from generate_series(1, ${n}) s`.execute(db);
  await db
    .updateTable('agents')
    .set({ inbox_seq: n, backlog_since: new Date() })
    .where('id', '=', recipientId)
    .execute();
}

async function main() {
  const database = await freshDatabase('messages');
  const db = createDb(database.url, { max: 4 });
  const leashPort = await freePort();
  const basePort = await freePort();
  const prefix = `leash-bench-${randomBytes(3).toString('hex')}`;
  const barePort = await freePort();
  let leash, baseline, bareDrain;
  // One receiver for Leash's drain (/inbox) and the bare ones (/bare-…): seqs in arrival order.
  const arrivals = new Map<string, { seqs: number[]; lastAt: number }>();
  const arrived = (path: string) => arrivals.get(path) ?? arrivals.set(path, { seqs: [], lastAt: 0 }).get(path)!;
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body);
      if (j.type === 'message') {
        const a = arrived(req.url!);
        a.seqs.push(j.data.seq);
        a.lastAt = performance.now();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const receiverOrigin = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const received = arrived('/inbox').seqs;
  try {
    await migrateToLatest(db);
    const ws = await createWorkspace(db, { name: 'Bench', ownerEmail: 'owner@example.com' });
    const ctx = operatorCtx(ws.workspace_id);
    const opts = { allowPrivateUrls: true };
    const paused = await createAgent(db, ctx, { name: 'paused' }, opts);
    const capped = await createAgent(db, ctx, { name: 'capped' }, opts);
    const viaWs = await createAgent(db, ctx, { name: 'via-ws' }, opts);
    const viaSync = await createAgent(db, ctx, { name: 'via-sync' }, opts);
    const viaUrl = await createAgent(db, ctx, { name: 'via-url', delivery_url: `${receiverOrigin}/inbox` }, opts);
    const bareAgents = await Promise.all(
      ['bare-plain', 'bare-check'].map((name) => createAgent(db, ctx, { name }, opts)),
    );
    const senders = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createAgent(db, ctx, { name: `sender-${i}` }, opts)),
    );
    const spread = await Promise.all(
      Array.from({ length: 20 }, (_, i) => createAgent(db, ctx, { name: `paused-${i}` }, opts)),
    );
    const full = { pause_mode: 'full' as const, paused_at: new Date() };
    const held = [paused, viaWs, viaSync, viaUrl, ...spread].map((a) => a.agent.id);
    await db.updateTable('agents').set(full).where('id', 'in', held).execute();

    const env = {
      DATABASE_URL: database.url,
      NODE_ENV: 'production',
      LEASH_SECRET: 'bench-secret-of-at-least-32-bytes!',
      LOG_LEVEL: 'warn',
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
    };
    leash = await startProcess(
      'dist/src/main.js',
      ['all'],
      { ...env, PORT: String(leashPort), BACKLOG_CAP: String(CAP), ALLOW_PRIVATE_URLS: 'true' },
      `http://127.0.0.1:${leashPort}/healthz`,
      DEPLOYED_NODE_FLAGS,
    );
    baseline = await startProcess(
      'bench/support/baseline-server.mjs',
      [],
      { DATABASE_URL: database.url, PORT: String(basePort) },
      `http://127.0.0.1:${basePort}/`,
      DEPLOYED_NODE_FLAGS,
    );
    bareDrain = await startProcess(
      'bench/support/bare-drain.mjs',
      [],
      { DATABASE_URL: database.url, PORT: String(barePort) },
      `http://127.0.0.1:${barePort}/`,
      DEPLOYED_NODE_FLAGS,
    );
    const L = client(`http://127.0.0.1:${leashPort}`, CONNS);
    const B = client(`http://127.0.0.1:${basePort}`, CONNS);
    const owner = ws.api_key;

    // 1. Accept rate to a fully paused agent: 20 senders, 50 connections, every message stored.
    const message = (i: number) => ({ to: 'paused', body: { n: i, task: 'reconcile', pad: 'x'.repeat(200) } });
    const sendLeash = async (i: number) => {
      const r = await post(L, '/v1/messages', message(i), senders[i % 20]!.api_key);
      if (r.status !== 202) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`);
    };
    const sendBase = async (i: number) => {
      const r = await post(B, '/insert', message(i));
      if (r.status !== 200) throw new Error(`baseline: ${r.status}`);
    };
    await load(300, 10, sendBase); // warm up
    await load(300, 10, async (i) => sendLeash(i));
    const base = await load(N_ACCEPT, CONNS, sendBase);
    const acc = await load(N_ACCEPT, CONNS, async (i) => sendLeash(300 + i));
    const tput = (r: { ms: number[]; wallMs: number }) => (r.ms.length / r.wallMs) * 1000;
    const sb = stats(base.ms);
    const sl = stats(acc.ms);
    const storedPaused = Number(
      (await db.selectFrom('agents').select('inbox_seq').where('id', '=', paused.agent.id).executeTakeFirstOrThrow())
        .inbox_seq,
    );
    row([
      `baseline INSERT, ${CONNS} connections`,
      N_ACCEPT,
      `${f(tput(base), 0)} req/s`,
      `p50 ${f(sb.p50)} / p99 ${f(sb.p99)} / max ${f(sb.max)} ms`,
      '',
    ]);
    row([
      `send to a fully paused agent, 20 senders, ${CONNS} connections`,
      N_ACCEPT,
      `${f(tput(acc), 0)} req/s = ${f(tput(acc) / tput(base), 2)} × baseline`,
      `p50 ${f(sl.p50)} / p99 ${f(sl.p99)} / max ${f(sl.max)} ms`,
      `${storedPaused} stored, 0 delivered`,
    ]);
    headlines.push({
      metric: 'message accept to one fully paused agent, 20 senders',
      value: `${f(tput(acc), 0)} req/s = ${f(tput(acc) / tput(base), 2)} × bare INSERT (p99 ${f(sl.p99)} ms)`,
      target: '≥ 0.7 × bare INSERT',
      pass: tput(acc) / tput(base) >= 0.7,
    });

    // 1b. The same load spread over 20 paused inboxes: sends to one inbox queue on its row lock
    // (gapless seq), sends to different inboxes do not.
    const accSpread = await load(N_ACCEPT, CONNS, async (i) => {
      const r = await post(L, '/v1/messages', { ...message(i), to: `paused-${i % 20}` }, senders[i % 20]!.api_key);
      if (r.status !== 202) throw new Error(`send: ${r.status} ${JSON.stringify(r.json)}`);
    });
    const ss = stats(accSpread.ms);
    row([
      `send to 20 fully paused agents, 20 senders, ${CONNS} connections`,
      N_ACCEPT,
      `${f(tput(accSpread), 0)} req/s = ${f(tput(accSpread) / tput(base), 2)} × baseline`,
      `p50 ${f(ss.p50)} / p99 ${f(ss.p99)} / max ${f(ss.max)} ms`,
      '',
    ]);

    // 2. Cap exactness: 10 places left under the cap, 20 senders × 5 at once.
    await hold(db, ws.workspace_id, capped.agent.id, senders[0]!.agent.id, CAP - 10);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        post(L, '/v1/messages', { to: 'capped', body: i }, senders[i % 20]!.api_key).then((r) => r.status),
      ),
    );
    const stored = Number(
      (await db.selectFrom('agents').select('inbox_seq').where('id', '=', capped.agent.id).executeTakeFirstOrThrow())
        .inbox_seq,
    );
    const count = (s: number) => outcomes.filter((o) => o === s).length;
    headlines.push({
      metric: 'cap exactness, 20 concurrent senders',
      value: `${count(202)} of 100 accepted at ${CAP - 10} held, ${stored} stored`,
      target: 'exactly 10, never > cap',
      pass: stored === CAP && count(202) === 10,
    });
    row([
      `cap exactness: ${CAP - 10} held, 100 sends from 20 senders at once`,
      100,
      `${count(202)} × 202, ${count(429)} × 429`,
      `${stored} stored (cap ${CAP})`,
      stored === CAP && count(202) === 10 ? 'exact' : 'NOT EXACT',
    ]);

    // 3. Drains of HELD messages on unpause: stream, sync, delivery_url.
    for (const a of [viaWs, viaSync, viaUrl, ...bareAgents])
      await hold(db, ws.workspace_id, a.agent.id, senders[1]!.agent.id, HELD);

    // 3a. WebSocket: connected (and held) first, then unpaused; the client acks as it goes.
    const wsSeqs: number[] = [];
    const socket = new WebSocket(`ws://127.0.0.1:${leashPort}/v1/stream`, {
      headers: { authorization: `Bearer ${viaWs.api_key}` },
    });
    let wsDone: () => void = () => {};
    const wsFinished = new Promise<void>((r) => (wsDone = r));
    let wsLastAt = 0;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type !== 'message') return;
      wsSeqs.push(frame.message.seq);
      socket.send(JSON.stringify({ type: 'ack', seq: frame.message.seq }));
      if (frame.message.seq === HELD) {
        wsLastAt = performance.now();
        wsDone();
      }
    });
    await new Promise((r) => socket.once('open', r));
    await new Promise((r) => setTimeout(r, 300));
    const heldOnStream = wsSeqs.length;
    const wsStart = performance.now();
    await post(L, `/v1/agents/${viaWs.agent.id}/unpause`, {}, owner);
    await wsFinished;
    const wsMs = wsLastAt - wsStart;
    socket.close();
    const wsAudit = audit(wsSeqs, HELD);
    headlines.push({
      metric: `drain of ${HELD} held on unpause, WebSocket`,
      value: `${f(wsMs, 0)} ms, gaps ${wsAudit.gaps}, reorders ${wsAudit.reorders}`,
      target: '≤ 2 s, 0 gaps',
      pass: wsMs <= 2000 && wsAudit.gaps === 0 && wsAudit.reorders === 0,
    });
    row([
      `drain ${HELD} held on unpause: WebSocket`,
      HELD,
      `${f(wsMs, 0)} ms`,
      `${f((HELD / wsMs) * 1000, 0)} msg/s`,
      `gaps ${wsAudit.gaps}, reorders ${wsAudit.reorders}, repeats ${wsAudit.repeats}; ${heldOnStream} pushed while paused`,
    ]);

    // 3b. Sync: pages of 1,000 read and acked.
    const syncSeqs: number[] = [];
    const syncStart = performance.now();
    await post(L, `/v1/agents/${viaSync.agent.id}/unpause`, {}, owner);
    while (syncSeqs.length < HELD) {
      const page = await get(L, `/v1/messages?limit=1000&after=${syncSeqs.at(-1) ?? 0}`, viaSync.api_key);
      const seqs = page.json.data.map((m: { seq: number }) => m.seq);
      syncSeqs.push(...seqs);
      if (seqs.length) await post(L, '/v1/messages/ack', { seq: seqs.at(-1) }, viaSync.api_key);
    }
    const syncMs = performance.now() - syncStart;
    const syncAudit = audit(syncSeqs, HELD);
    headlines.push({
      metric: `drain of ${HELD} held on unpause, sync`,
      value: `${f(syncMs, 0)} ms, gaps ${syncAudit.gaps}, reorders ${syncAudit.reorders}`,
      target: '≤ 2 s, 0 gaps',
      pass: syncMs <= 2000 && syncAudit.gaps === 0 && syncAudit.reorders === 0,
    });
    row([
      `drain ${HELD} held on unpause: sync (pages of 1,000)`,
      HELD,
      `${f(syncMs, 0)} ms`,
      `${f((HELD / syncMs) * 1000, 0)} msg/s`,
      `gaps ${syncAudit.gaps}, reorders ${syncAudit.reorders}, repeats ${syncAudit.repeats}`,
    ]);

    // 3c. delivery_url: one signed POST at a time to a local receiver; first the bare drains (see
    // bench/support/bare-drain.mjs), without and with a read of the agent before each POST.
    const D = client(`http://127.0.0.1:${barePort}`, 1);
    const bare: Record<string, number> = {};
    for (const [i, check] of [false, true].entries()) {
      const path = check ? '/bare-check' : '/bare-plain';
      const meter = cpuMeter(bareDrain.pid!);
      const start = performance.now();
      const r = await post(D, '/drain', {
        agent: bareAgents[i]!.agent.id,
        url: `${receiverOrigin}${path}`,
        secret: `whsec_${randomBytes(24).toString('base64')}`,
        check,
      });
      if (r.status !== 200 || r.json.delivered !== HELD)
        throw new Error(`bare drain: ${r.status} ${JSON.stringify(r.json)}`);
      bare[path] = arrived(path).lastAt - start;
      const a = audit(arrived(path).seqs, HELD);
      row([
        `baseline: bare drain of ${HELD}, ${check ? 'reading the agent before each POST' : 'POSTs only'}`,
        HELD,
        `${f(bare[path]!, 0)} ms`,
        `${f((HELD / bare[path]!) * 1000, 0)} msg/s`,
        `gaps ${a.gaps}, reorders ${a.reorders}; ${cpuPerMessage(meter(HELD))}`,
      ]);
    }
    await D.close();
    await new Promise((r) => setTimeout(r, 300));
    const heldOnUrl = received.length;
    const urlMeter = cpuMeter(leash.pid!);
    const urlStart = performance.now();
    await post(L, `/v1/agents/${viaUrl.agent.id}/unpause`, {}, owner);
    const deadline = Date.now() + 120_000;
    while (!received.includes(HELD) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const urlMs = arrived('/inbox').lastAt - urlStart;
    const urlAudit = audit(received, HELD);
    const urlCpu = cpuPerMessage(urlMeter(HELD));
    // As throughput ratios, like the other baselines: 1 would be as fast as the bare drain.
    const vsBare = (path: string) => f(bare[path]! / urlMs, 2);
    headlines.push({
      metric: `drain of ${HELD} held on unpause, delivery_url`,
      value: `${f(urlMs, 0)} ms = ${vsBare('/bare-plain')} × bare POSTs, ${vsBare('/bare-check')} × bare POSTs with the same check; gaps ${urlAudit.gaps}, reorders ${urlAudit.reorders}`,
      target: '≥ 0.8 × bare POSTs, 0 gaps',
      pass: bare['/bare-plain']! / urlMs >= 0.8 && urlAudit.gaps === 0 && urlAudit.reorders === 0,
    });
    row([
      `drain ${HELD} held on unpause: delivery_url`,
      HELD,
      `${f(urlMs, 0)} ms`,
      `${f((HELD / urlMs) * 1000, 0)} msg/s = ${vsBare('/bare-plain')} × bare, ${vsBare('/bare-check')} × bare with the check`,
      `gaps ${urlAudit.gaps}, reorders ${urlAudit.reorders}, repeats ${urlAudit.repeats}; ${heldOnUrl} posted while paused; ${urlCpu}`,
    ]);

    await Promise.all([L.close(), B.close()]);
  } finally {
    if (leash) await stopProcess(leash);
    if (baseline) await stopProcess(baseline);
    if (bareDrain) await stopProcess(bareDrain);
    receiver.close();
    await db.destroy();
    await database.drop();
  }

  await report(
    'messages',
    'Messages benchmark',
    ['scenario', 'n', 'rate / time', 'latency or throughput', 'checks'],
    rows,
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
