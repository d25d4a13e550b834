// A flood against a real listening Leash (a `web` process, as deployed, counting in Redis), all at
// once: one key far past its per-minute limit, an address sending bad keys, and hundreds of
// connections sending their headers a byte at a time. Meanwhile another key is served as usual, and
// afterwards Postgres holds exactly what the accepted requests wrote. Limits are low (env) so that
// it runs in seconds; outcomes are asserted, not speed. Client addresses are loopback ones
// (127.0.0.x), each flood from its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv, useTestApp } from '../support/app.js';
import { parseReply, slowRequest } from '../support/slow-client.js';
import { wellInsideAMinute } from '../support/windows.js';
import { freePort } from './support/services.js';

const PER_KEY = 40;
const FAILURES = 10;
const HEADERS_MS = 1_000;
const FLOOD = 4 * PER_KEY;
const BAD_KEYS = 10 * FAILURES;
const SLOW = 300;
const GOOD = 20;

const t = useTestApp();
let leash: ChildProcess;
let base = '';
let port = 0;

beforeAll(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    ...testEnv(t.config.databaseUrl),
    QUEUE_PREFIX: `leash-test-flood-${randomBytes(4).toString('hex')}`,
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    RATE_LIMIT_PER_MINUTE: String(PER_KEY),
    AUTH_FAILURES_PER_MINUTE: String(FAILURES),
    HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    REQUEST_TIMEOUT_MS: String(5 * HEADERS_MS),
  };
  leash = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'web'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    leash.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Leash is listening')) resolve();
    });
    leash.once('exit', () => reject(new Error(`leash exited before listening:\n${out}`)));
  });
  leash.stdout!.resume();
}, 30_000);
afterAll(async () => {
  if (leash && leash.exitCode === null) {
    const exited = new Promise((r) => leash.once('exit', r));
    leash.kill('SIGTERM');
    await exited;
  }
});

/** Connections from one loopback address, kept alive. */
const from = (localAddress: string) => new http.Agent({ keepAlive: true, localAddress });
const fromHere = from('127.0.0.1');

function call(
  method: string,
  path: string,
  opts: { key: string; body?: string; agent?: http.Agent },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.key}` };
    if (opts.body) headers['content-type'] = 'application/json';
    const req = http.request(`${base}${path}`, { method, agent: opts.agent ?? fromHere, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const ask = (i: number) =>
  JSON.stringify({
    recipient: 'a@example.com',
    channel: 'web',
    message: `Wire #${i}?`,
    options: ['Yes', 'No'],
    timeout_seconds: 3600,
  });
const create = (key: string, i: number) => call('POST', '/v1/pause', { key, body: ask(i) });

/** Runs fn for 0..n-1, `width` at a time. */
async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

describe('a flood', () => {
  it('one key past its limit, an address of bad keys, slow headers: each is refused, another key is served, Postgres holds exactly what was accepted', async () => {
    await wellInsideAMinute();
    const ws = await t.workspace();
    const flooder = await ws.agent('flooder');
    const good = await ws.agent('good');
    const badAddress = from('127.0.0.2');

    const [flood, bad, slow, served] = await Promise.all([
      pool(FLOOD, 16, (i) => create(flooder.key, i)),
      pool(BAD_KEYS, 8, () =>
        call('GET', '/v1/agents/me', { key: `lsh_a_${randomBytes(20).toString('hex')}`, agent: badAddress }),
      ),
      Promise.all(
        Array.from({ length: SLOW }, () =>
          slowRequest(port, {
            localAddress: '127.0.0.3',
            drip: `GET /healthz HTTP/1.1\r\nHost: leash\r\nX-Slow: ${'a'.repeat(200)}`,
            everyMs: 200,
            giveUpMs: 20 * HEADERS_MS,
          }),
        ),
      ),
      pool(GOOD, 1, (i) => create(good.key, i)),
    ]);

    // The flooding key: exactly its limit accepted, the rest 429 rate_limited with Retry-After.
    const accepted = flood.filter((r) => r.status === 201);
    const limited = flood.filter((r) => r.status === 429);
    expect(accepted.length).toBe(PER_KEY);
    expect(limited.length).toBe(FLOOD - PER_KEY);
    for (const r of limited) {
      expect(r.body.error.code).toBe('rate_limited');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }

    // The bad-key address: its allowance of failures got 401, everything after it 429.
    expect(bad.filter((r) => r.status === 401).length).toBe(FAILURES);
    expect(
      bad.filter(
        (r) => r.status === 429 && r.body.error.code === 'rate_limited' && Number(r.headers['retry-after']) > 0,
      ).length,
    ).toBe(BAD_KEYS - FAILURES);
    // Refused before any lookup: a valid key from that address is refused too.
    expect((await call('GET', '/v1/agents/me', { key: good.key, agent: badAddress })).status).toBe(429);

    // Every slow connection was cut by the server (408), none left open.
    expect(slow.filter((s) => s.closedAfterMs === undefined).length).toBe(0);
    expect(slow.filter((s) => parseReply(s.reply).status === 408).length).toBe(SLOW);

    // The other key was served throughout.
    expect(served.map((r) => r.status)).toEqual(Array.from({ length: GOOD }, () => 201));

    // Postgres holds exactly what the accepted requests wrote.
    const rows = async (agentId: string) =>
      (await t.deps.db.selectFrom('approvals').select('id').where('agent_id', '=', agentId).execute())
        .map((r) => r.id)
        .sort();
    expect(await rows(flooder.id)).toEqual(accepted.map((r) => r.body.pause_id).sort());
    expect(await rows(good.id)).toEqual(served.map((r) => r.body.pause_id).sort());
    console.log(
      `flood: ${FLOOD} requests of one key (${accepted.length} accepted), ${BAD_KEYS} bad keys (${FAILURES} answered 401, the rest 429), ${SLOW} slow-header connections cut after ${Math.min(...slow.map((s) => s.closedAfterMs!))}-${Math.max(...slow.map((s) => s.closedAfterMs!))} ms; the other key: ${GOOD}/${GOOD} created`,
    );
  }, 60_000);
});
