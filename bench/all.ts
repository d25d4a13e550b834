// `npm run bench`: every scenario, one after another (each starts its own Leash in a throwaway
// database, so none disturbs the next), then bench/RESULTS.md: the machine, the headline figures
// against the issue's targets, the before/after of the changes they led to (bench/changes.md),
// and each scenario's full table.   BENCH_QUICK=1 for a short run; BENCH_ONLY=create,idle for some.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { machine, type Headline } from './support/lib.js';

const SCENARIOS = [
  ['create', '1. approval create'],
  ['decide', '2. decision → agent'],
  ['timeouts', '3. timeout lateness'],
  ['messages', '4–5. message accept, cap, drains'],
  ['fanout', '6. webhook fan-out'],
  ['idle', '7. idle connections'],
  ['modes', '8. embedded mode beside queue mode'],
  ['growth', '9. a year of data beside an empty database'],
  ['cluster', '10. 1 all vs 2 web + 2 worker'],
] as const;

/** The load generator's own flags (package.json's bench scripts pass the same): on two cores its
 *  parallel GC threads took both at once in bursts, stalling the Leash process and Postgres it was
 *  measuring (decision → long-poll p99 55-60 ms with them, 15-24 ms without, alternating runs). */
const CLIENT_NODE_FLAGS = ['--single-threaded-gc'];

const only = process.env.BENCH_ONLY?.split(',');
const failed: string[] = [];
const started = Date.now();
for (const [name] of SCENARIOS) {
  if (only && !only.includes(name)) continue;
  console.log(`\n=== bench/${name}.ts`);
  const run = spawnSync(process.execPath, [...CLIENT_NODE_FLAGS, '--import', 'tsx', `bench/${name}.ts`], {
    stdio: 'inherit',
    env: process.env,
  });
  if (run.status !== 0) failed.push(name);
}

const read = (file: string) => {
  try {
    return readFileSync(new URL(file, import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
};
const targets: string[] = [];
const tables: string[] = [];
let quick = false;
for (const [name, title] of SCENARIOS) {
  const json = read(`results/${name}.json`);
  if (!json) continue;
  const r = JSON.parse(json) as { headlines: Headline[]; quick: boolean; date: string };
  quick ||= r.quick;
  for (const h of r.headlines)
    targets.push(
      `| ${title} | ${h.metric} | ${h.value} | ${h.target ?? '—'} | ${h.pass === undefined ? '' : h.pass ? 'met' : '**missed**'} |`,
    );
  tables.push(read(`results/${name}.md`)!.replace(/^## /, `## ${title}: `));
}
const doc = [
  `# Leash benchmarks (${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${machine()}. ${quick ? 'Quick run (BENCH_QUICK=1). ' : ''}${
    only
      ? `This run (BENCH_ONLY=${only.join(',')}) took ${Math.round((Date.now() - started) / 60_000)} min; the other scenarios are from the last run that had them.`
      : `\`npm run bench\` took ${Math.round((Date.now() - started) / 60_000)} min.`
  }`,
  "Each scenario starts Leash as deployed (compiled `dist/`, `npm start`'s node flags) as one `all` process (web + worker, NODE_ENV=production, LOG_LEVEL=warn) in a throwaway",
  'database; its baseline runs in the same run, on the same machine. Throughput varies ±20 % between runs on this 2-core',
  'machine, and latency tails far more (2026-11-23, on a 2 × AMD EPYC machine, as deployed now, one scenario at a time: decision → long-poll p99 16.4, 18.8, 25.5, 25.5, 58.9 ms; create p99 at 50 connections 36.0–55.3 ms; delivery_url drain of 10,000 7.9–16.2 s; fan-out 1,025–1,461 deliveries/s; 10,000 idle connections 227–235 MB).',
  '',
  '## Against the targets',
  '',
  '| scenario | figure | measured | target | |',
  '| --- | --- | --- | --- | --- |',
  ...targets,
  '',
  read('changes.md') ?? '',
  ...tables,
].join('\n');
writeFileSync(new URL('RESULTS.md', import.meta.url), doc);
console.log(`\nwrote bench/RESULTS.md${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
