// Shared bench plumbing: a throwaway database, child processes, a keep-alive HTTP client, stats.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { Pool } from 'undici';
import { onServer, withDatabase } from '../../src/db/migrate.js';

export const BASE_DB = process.env.BENCH_DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres';

const dbUrl = (name: string) => withDatabase(BASE_DB, name);
const admin = async (sql: string): Promise<void> => {
  await onServer(BASE_DB, sql);
};

export async function freshDatabase(tag: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `leash_bench_${tag}_${randomBytes(3).toString('hex')}`;
  await admin(`create database ${name}`);
  return { url: dbUrl(name), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

/** A port nothing listens on or connects from now: the kernel's pick, released for the caller (a
 *  random one could be a client socket's, and then a server failed to start or a bench talked to
 *  another process). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts an entry point in a child process and waits until `ready` answers: compiled JavaScript
 *  as deployed (dist/), or a TypeScript file of the bench's own through tsx. */
export async function startProcess(
  entry: string,
  args: string[],
  env: Record<string, string>,
  ready: string,
  nodeArgs: string[] = [],
  /** The environment the process starts from (default: this one's). */
  base: Record<string, string | undefined> = process.env,
): Promise<ChildProcess> {
  // BENCH_PROFILE=dir writes a V8 CPU profile of each process there (open in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // BENCH_NODE_ARGS: extra node/V8 flags for every process started (to try one, e.g. --optimize-for-size).
  const extra = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  // BENCH_STDOUT=file keeps the process's standard output (its logs; see BENCH_LOG_LEVEL).
  const stdout = process.env.BENCH_STDOUT ? openSync(process.env.BENCH_STDOUT, 'a') : 'ignore';
  const child = spawn(process.execPath, [...profile, ...nodeArgs, ...extra, ...loader, entry, ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(ready);
      if (res.status < 500) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${entry} did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export function client(origin: string, connections: number): Pool {
  return new Pool(origin, { connections, pipelining: 1 });
}

export async function post(
  pool: Pool,
  path: string,
  body: unknown,
  key?: string,
): Promise<{ status: number; json: any }> {
  const res = await pool.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

export async function get(pool: Pool, path: string, key?: string): Promise<{ status: number; json: any }> {
  const res = await pool.request({ method: 'GET', path, headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? JSON.parse(text) : null };
}

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return {
    n: s.length,
    p50: at(0.5),
    p99: at(0.99),
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}

/** Runs `task` `total` times with at most `concurrency` in flight; returns per-call ms and the wall time. */
export async function load(
  total: number,
  concurrency: number,
  task: (i: number) => Promise<void>,
): Promise<{ ms: number[]; wallMs: number }> {
  const ms: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        ms.push(performance.now() - t0);
      }
    }),
  );
  return { ms, wallMs: performance.now() - started };
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/** A headline figure and, where the issue sets one, its target; bench/all.ts tabulates these. */
export interface Headline {
  metric: string;
  value: string;
  target?: string;
  /** undefined: no target to meet. */
  pass?: boolean;
}

/** Prints the results table under the machine line and, unless BENCH_WRITE=0, writes it to
 *  bench/results/<name>.md and its headlines to <name>.json (bench/all.ts makes RESULTS.md of them). */
export async function report(
  name: string,
  title: string,
  header: string[],
  rows: string[],
  quick: boolean,
  headlines: Headline[] = [],
): Promise<void> {
  const table = [
    `Machine: ${machine()}. ${quick ? 'Quick run. ' : ''}Leash: one \`all\` process (web + worker) as deployed, NODE_ENV=production, LOG_LEVEL=warn.`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows,
  ].join('\n');
  console.log(table);
  for (const h of headlines)
    console.log(
      `${h.pass === undefined ? '·' : h.pass ? '✓' : '✗'} ${h.metric}: ${h.value}${h.target ? ` (target ${h.target})` : ''}`,
    );
  if (process.env.BENCH_WRITE !== '0') {
    const dir = new URL('../results/', import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(new URL(`${name}.md`, dir), `## ${title}\n\n${table}\n`);
    await writeFile(
      new URL(`${name}.json`, dir),
      `${JSON.stringify({ name, title, quick, machine: machine(), date: new Date().toISOString(), headlines }, null, 2)}\n`,
    );
  }
}

export const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

/** CPU seconds used so far by a process (all its threads), from /proc: Linux only, NaN elsewhere. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

function pidsNamed(name: string): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/** Where a phase's CPU went: the server process, every Postgres and Redis process on the machine,
 *  and this (client) process. Ratios of CPU per request explain a throughput ratio on a CPU-bound box. */
export function cpuMeter(serverPid: number) {
  const read = () => ({
    server: cpuSecondsOf(serverPid),
    postgres: pidsNamed('postgres').reduce((sum, pid) => sum + (cpuSecondsOf(pid) || 0), 0),
    redis: pidsNamed('redis-server').reduce((sum, pid) => sum + (cpuSecondsOf(pid) || 0), 0),
    client: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  });
  const start = read();
  return (requests: number) => {
    const end = read();
    const per = (k: keyof typeof start) => ((end[k] - start[k]) * 1000) / requests;
    return { server: per('server'), postgres: per('postgres'), redis: per('redis'), client: per('client') };
  };
}
