// Private Redis and Postgres servers for fault tests: killing, flushing or restarting the shared
// ones on 127.0.0.1 would break every other test file running beside this one. Each is a real
// server on a free loopback port, in a temporary directory, gone when the test file ends.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface PrivateRedis {
  url: string;
  /** Kills the server (SIGKILL: no persistence, so everything in it is gone). */
  kill(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  /** Starts it if a test left it down (so clean-up can reach it). */
  ensureRunning(): Promise<void>;
  flushall(): Promise<void>;
  close(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const ping = async () => {
    const r = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => {}); // not up yet: connect() rejects, which is the answer
    try {
      await r.connect();
      return (await r.ping()) === 'PONG';
    } finally {
      r.disconnect();
    }
  };
  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()],
      { stdio: 'ignore' },
    );
    await until('private redis', ping);
  };
  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async ensureRunning() {
      if (!proc || proc.exitCode !== null) await start();
    },
    async flushall() {
      const r = new Redis({ port, host: '127.0.0.1' });
      try {
        await r.flushall();
      } finally {
        r.disconnect();
      }
    },
    close: kill,
  };
}

export interface PrivatePostgres {
  /** A URL for database `name` on this server. */
  url(name: string): string;
  /** `immediate` is a crash (no checkpoint, connections cut); `fast` a clean shutdown. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  return version ? join(root, version, 'bin', tool) : tool;
}

/** Postgres refuses to run as root; as root, the server runs as the `postgres` OS user. */
async function asServerUser(tool: string, args: string[]): Promise<void> {
  const root = process.getuid?.() === 0;
  await run(root ? 'runuser' : pgBin(tool), root ? ['-u', 'postgres', '--', pgBin(tool), ...args] : args, {
    timeout: 60_000,
  });
}

export async function privatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'leash-fault-pg-'));
  const data = join(dir, 'data');
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  const port = await freePort();
  await asServerUser('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  // fsync=off survives a server crash (the kernel still holds what was written), not a machine
  // crash, which no test here makes. synchronous_commit stays on: with it off, a crash loses
  // commits already acknowledged, and this suite would rightly catch that as lost writes.
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const ctl = (...args: string[]) => asServerUser('pg_ctl', ['-D', data, '-l', join(dir, 'log'), ...args]);
  const start = async () => {
    await ctl('-o', opts, '-w', 'start');
  };
  await start();
  return {
    url: (name) => `postgres://postgres@127.0.0.1:${port}/${name}`,
    stop: (mode = 'immediate') => ctl('-m', mode, '-w', 'stop'),
    start,
    async close() {
      await ctl('-m', 'immediate', '-w', 'stop').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
