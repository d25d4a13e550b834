// Scenario 7, idle connections: the memory (RSS) of the Leash process holding idle WebSocket
// streams and idle long-polls, per 1,000, against a bare server (ws + a Fastify long-poll that
// never answers) holding the same, measured in the same run. Target: 10,000 idle < 300 MB.
//   npm run bench:idle       BENCH_QUICK=1 for a short run
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { f, freePort, post, client, report, startProcess, stopProcess } from './support/lib.js';
import { ask, DEPLOYED_NODE_FLAGS, QUICK, startLeash } from './support/leash.js';

const EACH = QUICK ? 1_000 : 5_000; // WebSockets, and as many long-polls
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 15_000);

const rssMb = (p: ChildProcess) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))![1]) / 1024;

/** RSS once the process has been idle a while: V8's memory reducer collects and gives back some of
 *  the heap a burst of opening grew (measured: with a 3 s wait the figure was 1.5 × higher). */
async function settle(p: ChildProcess): Promise<number> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  return rssMb(p);
}

async function openSockets(url: string, key: string, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, () => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
      out.push(ws);
      return new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
    });
    await Promise.all(batch);
  }
  return out;
}

/** Long-polls that stay open: one plain request each, on its own socket (no pool limit). */
function openPolls(origin: string, path: string, key: string, n: number): http.ClientRequest[] {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  return Array.from({ length: n }, () => {
    const req = http.get(`${origin}${path}`, { agent, headers: { authorization: `Bearer ${key}` } });
    req.on('error', () => {});
    return req;
  });
}

async function measure(
  name: string,
  proc: ChildProcess,
  origin: string,
  wsPath: string,
  pollPath: string,
  key: string,
) {
  const before = await settle(proc);
  const sockets = await openSockets(origin.replace('http', 'ws') + wsPath, key, EACH);
  const withWs = await settle(proc);
  const polls = openPolls(origin, pollPath, key, EACH);
  // Every long-poll has reached the server and is parked (or the wait is longer than we have).
  await new Promise((r) => setTimeout(r, QUICK ? 3_000 : 8_000));
  const withBoth = await settle(proc);
  for (const s of sockets) s.terminate();
  for (const p of polls) p.destroy();
  return { name, before, withWs, withBoth };
}

async function main() {
  const leash = await startLeash('idle');
  const port = await freePort();
  const bare = await startProcess(
    'bench/support/bare-idle-server.mjs',
    [],
    { PORT: String(port) },
    `http://127.0.0.1:${port}/ready`,
    DEPLOYED_NODE_FLAGS,
  );
  const rows: string[] = [];
  let headlines;
  try {
    const L = client(leash.origin, 1);
    const pending = (await post(L, '/v1/pause', ask(1), leash.agent.key)).json.pause_id;
    await L.close();
    const b = await measure('bare ws + Fastify long-poll', bare, `http://127.0.0.1:${port}`, '/ws', '/wait', 'x');
    const l = await measure(
      'Leash',
      leash.process,
      leash.origin,
      '/v1/stream',
      `/v1/pause/${pending}?wait=60`,
      leash.agent.key,
    );
    const per = (x: number) => (x / EACH) * 1000;
    for (const m of [b, l]) {
      rows.push(
        `| ${m.name} | ${f(m.before, 0)} MB | ${f(m.withWs, 0)} MB (+${f(per(m.withWs - m.before))} MB per 1,000 WebSockets) | ${f(m.withBoth, 0)} MB (+${f(per(m.withBoth - m.withWs))} MB per 1,000 long-polls) | ${f(m.withBoth, 0)} MB for ${2 * EACH} |`,
      );
    }
    const leashPerK = (per(l.withWs - l.before) + per(l.withBoth - l.withWs)) / 2;
    const at10k = l.before + leashPerK * 10;
    rows.push(
      `| Leash, ${2 * EACH} → 10,000 (linear) | | | | ${f(at10k, 0)} MB RSS (${f(leashPerK)} MB per 1,000; bare ${f((per(b.withWs - b.before) + per(b.withBoth - b.withWs)) / 2)}) |`,
    );
    headlines = [
      {
        metric: '10,000 idle connections (half WebSocket, half long-poll)',
        value: `${f(at10k, 0)} MB RSS for the whole process`,
        target: '< 300 MB',
        pass: at10k < 300,
      },
      {
        metric: '10,000 idle connections beside the bare server',
        value: `${f(at10k / b.withBoth, 2)} × the bare server's RSS (${f(at10k, 0)} vs ${f(b.withBoth, 0)} MB; idle alone ${f(l.before, 0)} vs ${f(b.before, 0)} MB)`,
        target: '≤ 1.2 × bare',
        pass: at10k / b.withBoth <= 1.2,
      },
    ];
  } finally {
    await stopProcess(bare);
    await leash.stop();
  }
  await report(
    'idle',
    'Idle connections benchmark',
    ['server', 'idle', `+ ${EACH} WebSockets`, `+ ${EACH} long-polls`, 'total'],
    rows,
    QUICK,
    headlines,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
