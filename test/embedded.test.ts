// Embedded mode (contract §2): no DATABASE_URL, no REDIS_URL. The real process starts its own
// Postgres under LEASH_DATA_DIR, and the CLI finds it there. Each test starts from a temp data dir.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startReceiver } from './support/receiver.js';

const dirs: string[] = [];
interface Running {
  child: import('node:child_process').ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
  address(): Promise<string>;
}
const children: Running[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.child.kill('SIGKILL');
});
afterAll(() => {
  for (const d of dirs) {
    stopPostgresOf(d);
    rmSync(d, { recursive: true, force: true });
  }
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-embedded-'));
  // Postgres never runs as root: as root its own user must reach the cluster inside.
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

/** The environment of a machine with nothing configured: no DATABASE_URL, no REDIS_URL. */
const bare = (dir: string, extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH!,
  HOME: process.env.HOME ?? '/tmp',
  NODE_ENV: 'test',
  LEASH_DATA_DIR: dir,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  ...extra,
});

function start(dir: string, extra: Record<string, string> = {}, mode = 'all', group = false): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', mode], {
    env: bare(dir, extra),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a terminal gives `npm start`: a Ctrl-C reaches every process in it.
    detached: group,
  });
  const p: Running = {
    child,
    out: '',
    err: '',
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
    address: async () => {
      await expect.poll(() => p.out, { timeout: 30_000 }).toContain('worker started');
      return /"address":"(http:\/\/[^"]+)"/.exec(p.out)![1]!;
    },
  };
  child.stdout!.on('data', (d) => (p.out += d));
  child.stderr!.on('data', (d) => (p.err += d));
  children.push(p);
  return p;
}

function leash(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { env: bare(dir), timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Postgres processes serving this data dir's cluster. */
function postgresOf(dir: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(join(dir, 'pg')) && /postgres/.test(l));
}

function stopPostgresOf(dir: string) {
  for (const line of postgresOf(dir)) {
    const pid = Number(line.trim().split(/\s+/)[0]);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** The embedded database, read directly (through what the data dir says). */
async function query<T>(dir: string, text: string, params: unknown[] = []): Promise<T[]> {
  const state = JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8'));
  const client = new pg.Client({
    host: '127.0.0.1',
    port: state.port,
    user: 'postgres',
    password: state.password,
    database: 'leash',
  });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

const api = (base: string, key: string) => async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as any };
};

/** `leash init` beside the running Leash: the owner's key. */
async function ownerKey(dir: string): Promise<string> {
  const init = await leash(dir, 'init', '--workspace', 'Embedded Co', '--owner-email', 'o@example.com', '--json');
  expect(init.code).toBe(0);
  return JSON.parse(init.stdout).api_key;
}

// Each test boots Postgres, and several CLI runs boot Node again: slow on a loaded 2-core box.
describe('embedded mode', { timeout: 90_000 }, () => {
  it('starts with nothing configured; the CLI works beside it; timeouts, pauses; one Leash per dir; SIGTERM stops Postgres', async () => {
    const dir = dataDir();
    const p = start(dir);
    const base = await p.address();
    expect(p.out).toContain('embedded mode');
    const call = api(base, await ownerKey(dir));
    const agent = await call('POST', '/v1/agents', { name: 'emb-bot' });
    expect(agent.status).toBe(201);
    const bot = api(base, agent.body.api_key);
    const asked = await bot('POST', '/v1/pause', {
      channel: 'web',
      recipient: 'o@example.com',
      message: 'Ship?',
      options: ['Yes', 'No'],
      timeout_seconds: 2,
      timeout_default: 'No',
    });
    expect(asked.status).toBe(201);
    await expect
      .poll(async () => (await call('GET', `/v1/pause/${asked.body.pause_id}`)).body.status, { timeout: 8_000 })
      .toBe('timed_out');
    expect((await call('GET', `/v1/pause/${asked.body.pause_id}`)).body.response_choice).toBe('No');
    const id = agent.body.agent.id;
    expect((await call('POST', `/v1/agents/${id}/pause`, { mode: 'send', reason: 'test' })).status).toBe(200);
    expect((await call('POST', `/v1/agents/${id}/unpause`, {})).status).toBe(200);
    const actions = (await call('GET', `/v1/agents/${id}/activity`)).body.data.map((a: { action: string }) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['agent.paused', 'agent.unpaused']));

    const second = start(dir);
    expect(await second.exited).not.toBe(0);
    expect(second.err.trim()).toMatch(/^Another Leash \(pid \d+\) is running on .*leash-embedded-/);
    expect(second.err.trim().split('\n')).toHaveLength(1);

    const url = await leash(dir, 'db-url');
    expect(url.stdout.trim()).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/leash$/);
    const client = new pg.Client(url.stdout.trim());
    await client.connect();
    expect((await client.query('select count(*)::int as n from agents')).rows[0].n).toBe(1);
    await client.end();

    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(postgresOf(dir)).toEqual([]);
    expect(existsSync(join(dir, 'leash.pid'))).toBe(false);

    // With Leash stopped, the CLI starts the embedded server for itself and stops it after.
    const status = await leash(dir, 'status', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).map((a: { name: string }) => a.name)).toEqual(['emb-bot']);
    expect(postgresOf(dir)).toEqual([]);
    const notRunning = await leash(dir, 'db-url');
    expect(notRunning.code).toBe(1);
    expect(notRunning.stderr).toContain('Leash is not running on');
  });

  it('a Ctrl-C in the terminal (SIGINT to the whole process group) exits 0 promptly and leaves no Postgres', async () => {
    const dir = dataDir();
    const p = start(dir, {}, 'all', true);
    await p.address();
    const signalled = Date.now();
    process.kill(-p.child.pid!, 'SIGINT');
    expect(await p.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(postgresOf(dir)).toEqual([]);
    expect(existsSync(join(dir, 'leash.pid'))).toBe(false);
  });

  it('after kill -9: every approval times out exactly once and held messages drain in order; nothing lost', async () => {
    const dir = dataDir();
    const receiver = await startReceiver();
    try {
      const first = start(dir);
      const base = await first.address();
      const key = await ownerKey(dir);
      const call = api(base, key);
      const alice = await call('POST', '/v1/agents', { name: 'alice' });
      const bob = await call('POST', '/v1/agents', { name: 'bob', delivery_url: `${receiver.url}/bob` });
      const bobId = bob.body.agent.id;
      expect((await call('POST', `/v1/agents/${bobId}/pause`, { mode: 'full' })).status).toBe(200);
      const asAlice = api(base, alice.body.api_key);
      const ask = {
        channel: 'web',
        recipient: 'o@example.com',
        message: 'Go?',
        options: ['Yes', 'No'],
        timeout_seconds: 5,
        timeout_default: 'No',
      };
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push((await asAlice('POST', '/v1/pause', ask)).body.pause_id);
      for (let n = 1; n <= 100; n++) {
        expect((await asAlice('POST', '/v1/messages', { to: 'bob', body: { n } })).status).toBe(202);
      }
      first.child.kill('SIGKILL');
      await first.exited;

      // The killed process's Postgres outlives it; the next start takes the data dir over.
      const again = start(dir);
      const call2 = api(await again.address(), key);
      expect(again.out).toContain('a Postgres server left by an earlier Leash is still running');
      await expect
        .poll(
          async () =>
            Number(
              (
                await query<{ n: string }>(
                  dir,
                  `select count(*) as n from approvals where status = 'timed_out' and id = any($1::uuid[])`,
                  [ids],
                )
              )[0]!.n,
            ),
          { timeout: 20_000 },
        )
        .toBe(50);
      const once = await query<{ n: string }>(
        dir,
        `select count(*) as n from activity where action = 'approval.timed_out' and details->>'pause_id' = any($1)`,
        [ids],
      );
      expect(Number(once[0]!.n)).toBe(50);

      expect(receiver.requests.filter((r) => r.path === '/bob' && r.json?.type === 'message')).toHaveLength(0);
      expect((await call2('POST', `/v1/agents/${bobId}/unpause`, {})).status).toBe(200);
      const seqs = () =>
        receiver.requests.filter((r) => r.path === '/bob' && r.json?.type === 'message').map((r) => r.json.data.seq);
      const firstSeen = () => seqs().filter((s, i, all) => all.indexOf(s) === i);
      await expect.poll(() => firstSeen().length, { timeout: 20_000 }).toBe(100);
      expect(firstSeen()).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      again.child.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    } finally {
      await receiver.close();
    }
  });
});

describe('embedded mode refuses, in one line, with exit 1', () => {
  const refused = async (p: Running, message: RegExp) => {
    expect(await p.exited).toBe(1);
    expect(p.err.trim().split('\n'), p.err).toHaveLength(1);
    expect(p.err.trim()).toMatch(message);
  };

  it('web or worker alone without queue mode, saying why', async () => {
    const dir = dataDir();
    await refused(
      start(dir, {}, 'web'),
      /^`web` runs apart from the worker only in queue mode: set DATABASE_URL and REDIS_URL/,
    );
    await refused(
      start(dir, { DATABASE_URL: 'postgres://127.0.0.1:5432/x' }, 'worker'),
      /^`worker` runs apart from the web process only in queue mode: .*\(single mode\)$/,
    );
    expect(existsSync(join(dir, 'pg'))).toBe(false);
  });

  it('a CLI command other than migrate or init, where there is no Leash data, making none', async () => {
    const dir = dataDir();
    const res = await leash(dir, 'status');
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toMatch(
      /^leash: No Leash data in .*leash-embedded-.*: run this where Leash keeps its data/,
    );
    expect(existsSync(join(dir, 'pg'))).toBe(false);
  });

  it('a data dir that cannot be written', async () => {
    const file = join(dataDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    await refused(start(join(file, 'data')), /^LEASH_DATA_DIR .*a-file\/data is not writable \(ENOTDIR\)/);
  });

  it('a data dir holding something that is not a cluster', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'pg'));
    writeFileSync(join(dir, 'pg', 'notes.txt'), 'mine');
    await refused(start(dir), /holds files but no Postgres cluster/);
    expect(readFileSync(join(dir, 'pg', 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('a corrupt cluster', async () => {
    const dir = dataDir();
    mkdirSync(join(dir, 'pg'));
    writeFileSync(join(dir, 'pg', 'PG_VERSION'), 'garbage\n');
    // Without its state file the cluster's password is unknown: said as such.
    await refused(start(dir), /server\.json is missing or unreadable, and it holds the embedded cluster's password/);
    writeFileSync(join(dir, 'server.json'), JSON.stringify({ port: 0, password: 'p', pid: 0 }));
    await refused(start(dir), /^Embedded Postgres could not start in .*: /);
  });

  it('a port in use, and the embedded Postgres is stopped again', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const dir = dataDir();
      await refused(start(dir, { PORT: String(port) }), new RegExp(`^PORT ${port} is in use on 127.0.0.1`));
      expect(postgresOf(dir)).toEqual([]);
    } finally {
      taken.close();
    }
  });
});
