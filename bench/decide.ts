// Scenario 2, decision → agent: an approver answers at 100 decisions/s (open loop: one every
// 10 ms, whatever the answers take) while the asking agent waits on a long-poll per approval and on
// its WebSocket stream (the pause_request_responded control frame). Latency is from sending the
// answer to the agent holding the outcome. The baseline is the same wait on a bare server: a
// Fastify long-poll woken in-process, no database (the floor of the HTTP round trips). Both run
// WARMUP decisions first; Leash's are reported on their own row.
//   npm run bench:decide       BENCH_QUICK=1 for a short run
import Fastify from 'fastify';
import WebSocket from 'ws';
import { client, cpuMeter, f, get, post, report, stats, type Stats } from './support/lib.js';
import { decideAll, PARK_AHEAD_MS, RATE } from './support/decisions.js';
import { ask, QUICK, startLeash } from './support/leash.js';

const N = QUICK ? 300 : 1_000;
/** Decisions at the same rate before the measured ones, reported apart: the first after start pay
 *  for V8 compiling the path and for the connection pool growing (new Postgres backends with cold
 *  caches), once per process. The target is the steady state. */
const WARMUP = QUICK ? 100 : 300;

/** The floor: a bare Fastify long-poll released by a bare POST, both on loopback. */
async function baseline(n: number): Promise<Stats> {
  const app = Fastify();
  const waiting = new Map<string, () => void>();
  app.get(
    '/wait/:id',
    (req) => new Promise((resolve) => waiting.set((req.params as { id: string }).id, () => resolve({ ok: true }))),
  );
  app.post('/answer/:id', async (req) => {
    waiting.get((req.params as { id: string }).id)?.();
    return { ok: true };
  });
  const origin = await app.listen({ port: 0, host: '127.0.0.1' });
  const pool = client(origin, 50);
  const parked = client(origin, Math.ceil((RATE * PARK_AHEAD_MS) / 1000) + 50);
  const run = async (from: number, count: number) => {
    const ms: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await new Promise((r) => setTimeout(r, started + i * (1000 / RATE) - performance.now()));
        const woke = get(parked, `/wait/${from + i}`).then(() => performance.now());
        await new Promise((r) => setTimeout(r, PARK_AHEAD_MS));
        const t0 = performance.now();
        await post(pool, `/answer/${from + i}`, {});
        ms.push((await woke) - t0);
      }),
    );
    return ms;
  };
  await run(0, WARMUP);
  const ms = await run(WARMUP, n);
  await Promise.all([pool.close(), parked.close()]);
  await app.close();
  return stats(ms);
}

async function main() {
  const leash = await startLeash('decide');
  const rows: string[] = [];
  const row = (name: string, s: Stats, extra = '') =>
    rows.push(`| ${name} | ${s.n} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${extra} |`);
  let headlines;
  try {
    const base = await baseline(N);
    const L = client(leash.origin, 50);
    const waiters = client(leash.origin, Math.ceil((RATE * PARK_AHEAD_MS) / 1000) + 50);
    const ask1 = async (i: number) => (await post(L, '/v1/pause', ask(i), leash.agent.key)).json.pause_id as string;
    const warmIds: string[] = [];
    for (let i = 0; i < WARMUP; i++) warmIds.push(await ask1(i));
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await ask1(WARMUP + i));

    // The agent's stream: each pause_request_responded frame, timed on arrival.
    const onStream = new Map<string, number>();
    const socket = new WebSocket(`${leash.origin.replace('http', 'ws')}/v1/stream`, {
      headers: { authorization: `Bearer ${leash.agent.key}` },
    });
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'control' && frame.event === 'pause_request_responded')
        onStream.set(frame.data.pause_id, performance.now());
    });
    await new Promise((r) => socket.once('open', r));

    const warm = await decideAll(leash, L, waiters, warmIds);
    const meter = cpuMeter(leash.process.pid!);
    const { answerMs, pollMs, sentAt, wallS } = await decideAll(leash, L, waiters, ids);
    const cpu = meter(N);
    await new Promise((r) => setTimeout(r, 1_000));
    socket.close();
    const streamMs = ids.filter((id) => onStream.has(id)).map((id) => onStream.get(id)! - sentAt.get(id)!);
    const poll = stats(pollMs);
    const stream = stats(streamMs);
    row('baseline: bare long-poll released by a bare POST (ms)', base, `after ${WARMUP} unmeasured`);
    row(
      `warm-up: the first ${WARMUP} decisions after start, answer → long-poll (ms)`,
      stats(warm.pollMs),
      'not in the target (see WARMUP)',
    );
    row(`answer → respond returns, ${RATE}/s (ms)`, stats(answerMs), `${f(N / wallS, 0)} decisions/s achieved`);
    row('answer → waiting long-poll returns (ms)', poll, `${f(poll.p99 / base.p99, 1)} × baseline p99`);
    row('answer → WebSocket control frame (ms)', stream, `${streamMs.length} of ${N} frames`);
    // Less noisy than a tail: what a decision costs (its answer, its long-poll, the stream's frame,
    // the worker's fan-out); the tail grows with how busy the two cores are.
    rows.push(
      `| CPU ms per decision | ${N} | | | | leash ${f(cpu.server, 2)}, postgres ${f(cpu.postgres, 2)}, redis ${f(cpu.redis, 2)}, client ${f(cpu.client, 2)} |`,
    );
    headlines = [
      {
        metric: `decision → long-poll p99 at ${RATE}/s`,
        value: `${f(poll.p99)} ms (bare floor ${f(base.p99)} ms)`,
        target: '≤ 5 ms (issue 26; was ≤ 20 ms)',
        pass: poll.p99 <= 5,
      },
      {
        metric: `decision → WebSocket p99 at ${RATE}/s`,
        value: `${f(stream.p99)} ms`,
        target: '≤ 5 ms (issue 26; was ≤ 20 ms)',
        pass: stream.p99 <= 5 && streamMs.length === N,
      },
    ];
    await Promise.all([L.close(), waiters.close()]);
  } finally {
    await leash.stop();
  }
  await report(
    'decide',
    'Decision → agent benchmark',
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
