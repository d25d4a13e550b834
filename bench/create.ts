// Scenario 1, approval create: latency sequentially and throughput at 50 connections, against the
// bare baseline (a Fastify route doing one INSERT with pg, started here on the same database).
//   npm run bench:create       BENCH_QUICK=1 for a short run
import {
  client,
  cpuMeter,
  f,
  freePort,
  load,
  post,
  report,
  startProcess,
  stats,
  stopProcess,
  type Stats,
} from './support/lib.js';
import { ask, DEPLOYED_NODE_FLAGS, QUICK, startLeash } from './support/leash.js';

const N_SEQ = QUICK ? 300 : 1_000;
const N_CONC = QUICK ? 2_000 : 8_000;
const CONNS = 50;

async function main() {
  const leash = await startLeash('create');
  const basePort = await freePort();
  const baseline = await startProcess(
    'bench/support/baseline-server.mjs',
    [],
    { DATABASE_URL: leash.databaseUrl, PORT: String(basePort) },
    `http://127.0.0.1:${basePort}/`,
    DEPLOYED_NODE_FLAGS,
  );
  const rows: string[] = [];
  const row = (name: string, s: Stats, extra = '') =>
    rows.push(`| ${name} | ${s.n} | ${f(s.p50)} | ${f(s.p99)} | ${f(s.max)} | ${extra} |`);
  let headlines;
  try {
    const L = client(leash.origin, CONNS);
    const B = client(`http://127.0.0.1:${basePort}`, CONNS);
    const createLeash = async (i: number) => {
      const r = await post(L, '/v1/pause', ask(i), leash.agent.key);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.json)}`);
    };
    const createBase = async (i: number) => {
      const r = await post(B, '/insert', ask(i));
      if (r.status !== 200) throw new Error(`baseline: ${r.status}`);
    };
    // Warm up both (JIT, connection pools), then measure each alone.
    await load(500, 10, createLeash);
    await load(500, 10, createBase);
    const seqBase = await load(N_SEQ, 1, createBase);
    const seqLeash = await load(N_SEQ, 1, createLeash);
    let meter = cpuMeter(baseline.pid!);
    const concBase = await load(N_CONC, CONNS, createBase);
    const cpuBase = meter(N_CONC);
    meter = cpuMeter(leash.process.pid!);
    const concLeash = await load(N_CONC, CONNS, createLeash);
    const cpuLeash = meter(N_CONC);
    const tput = (r: { ms: number[]; wallMs: number }) => (r.ms.length / r.wallMs) * 1000;
    const ratio = tput(concLeash) / tput(concBase);
    const conc = stats(concLeash.ms);
    row('baseline INSERT, sequential (ms)', stats(seqBase.ms));
    row(
      'create approval, sequential (ms)',
      stats(seqLeash.ms),
      `${f(stats(seqLeash.ms).p50 / stats(seqBase.ms).p50, 2)} × baseline p50`,
    );
    row(`baseline INSERT, ${CONNS} connections (ms)`, stats(concBase.ms), `${f(tput(concBase), 0)} req/s`);
    row(
      `create approval, ${CONNS} connections (ms)`,
      conc,
      `${f(tput(concLeash), 0)} req/s = ${f(ratio, 2)} × baseline throughput`,
    );
    // CPU per request, by process: on this CPU-bound box it is what sets the throughput ratio.
    const cpu = (c: typeof cpuBase) =>
      `server ${f(c.server, 2)}, postgres ${f(c.postgres, 2)}, redis ${f(c.redis, 2)}, client ${f(c.client, 2)}`;
    rows.push(`| CPU ms per request, baseline | ${N_CONC} | | | | ${cpu(cpuBase)} |`);
    rows.push(`| CPU ms per request, create approval | ${N_CONC} | | | | ${cpu(cpuLeash)} |`);
    headlines = [
      {
        metric: 'approval create throughput, 50 connections',
        value: `${f(tput(concLeash), 0)} req/s = ${f(ratio, 2)} × bare INSERT (${f(tput(concBase), 0)} req/s)`,
        target: '≥ 1.0 × baseline (issue 26; was ≥ 0.7 ×)',
        pass: ratio >= 1.0,
      },
      {
        metric: 'approval create p99, 50 connections',
        value: `${f(conc.p99)} ms`,
        target: '≤ 50 ms',
        pass: conc.p99 <= 50,
      },
      {
        metric: 'approval create p99, sequential',
        value: `${f(stats(seqLeash.ms).p99)} ms`,
        target: '≤ 50 ms',
        pass: stats(seqLeash.ms).p99 <= 50,
      },
    ];
    await Promise.all([L.close(), B.close()]);
  } finally {
    await stopProcess(baseline);
    await leash.stop();
  }
  await report(
    'create',
    'Approval create benchmark',
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
