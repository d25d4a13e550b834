// Slow clients and held connections, over real loopback sockets (what the server does to a socket
// cannot be seen through inject()): the headers and request timeouts, which must not cut long-polls,
// a graceful stop's wait or streams; and the caps on long-polls and streams per key and per process.
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { parseReply, slowRequest } from './support/slow-client.js';
import { StreamClient } from './support/stream-client.js';

const HEADERS_MS = 500;
const REQUEST_MS = 3_000;
const WEBHOOK_MS = 500;
const PER_KEY = 3;
const PER_PROCESS = 5;
const t = useTestApp({
  HEADERS_TIMEOUT_MS: String(HEADERS_MS),
  REQUEST_TIMEOUT_MS: String(REQUEST_MS),
  WEBHOOK_BODY_TIMEOUT_MS: String(WEBHOOK_MS),
  MAX_WAITS_PER_KEY: String(PER_KEY),
  MAX_WAITS_PER_PROCESS: String(PER_PROCESS),
  SLACK_SIGNING_SECRET: 'slack-secret',
  SLACK_BOT_TOKEN: 'xoxb-test',
  SLACK_API_URL: 'http://127.0.0.1:9/api/',
  TELEGRAM_BOT_TOKEN: '123:test',
  TELEGRAM_WEBHOOK_SECRET: 'telegram-secret',
  TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
  TWILIO_AUTH_TOKEN: 'twilio-token',
});

let base = '';
let port = 0;
const streams: StreamClient[] = [];
beforeAll(async () => {
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(base).port);
});
afterAll(async () => {
  await Promise.all(streams.map((s) => s.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stream(key: string): Promise<StreamClient> {
  const s = await StreamClient.open(base, key);
  streams.push(s);
  return s;
}

async function ask(key: string): Promise<string> {
  const res = await t.call('POST', '/v1/pause', { key, body: { recipient: 'a@example.com', channel: 'web', message: 'Ship it?', options: ['Yes', 'No'], timeout_seconds: 3600 } });
  expect(res.status).toBe(201);
  return res.body.pause_id;
}

/** A long-poll over the network: resolves with its status and body when it ends. */
async function longPoll(key: string, path: string): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('slow clients', () => {
  it('headers sent a byte at a time are cut off after HEADERS_TIMEOUT_MS with 408 request_timeout', async () => {
    const res = await slowRequest(port, { drip: `GET /healthz HTTP/1.1\r\nHost: leash\r\nX-Slow: ${'a'.repeat(500)}`, everyMs: 50, giveUpMs: 20 * HEADERS_MS });
    expect(res.closedAfterMs).toBeDefined();
    expect(res.closedAfterMs!).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(parseReply(res.reply)).toMatchObject({ status: 408, body: { error: { code: 'request_timeout', message: expect.stringContaining('headers within 0.5 s'), request_id: expect.stringMatching(/^req_/) } } });
  });

  it('a body slower than REQUEST_TIMEOUT_MS (headers and body) is cut off, on a keyed route too', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('slow-sender');
    const body = JSON.stringify({ to: 'slow-sender', body: 'x'.repeat(100) });
    const head = `POST /v1/messages HTTP/1.1\r\nHost: leash\r\nAuthorization: Bearer ${agent.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const res = await slowRequest(port, { head, drip: body, everyMs: 100, giveUpMs: 5 * REQUEST_MS });
    expect(res.closedAfterMs).toBeDefined();
    expect(res.closedAfterMs!).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(res.dripped).toBeLessThan(body.length);
    expect(parseReply(res.reply)).toMatchObject({ status: 408, body: { error: { code: 'request_timeout' } } });
    expect(await t.deps.db.selectFrom('messages').select('id').where('sender_id', '=', agent.id).execute()).toEqual([]);
  });

  it('a long-poll that waits longer than the request timeout still gets its answer (the timeout bounds receiving a request, not answering it)', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('patient');
    const id = await ask(agent.key);
    const waited = longPoll(agent.key, `/v1/pause/${id}?wait=${(REQUEST_MS + 3_000) / 1000}`);
    await sleep(REQUEST_MS + 1_000);
    expect((await t.call('POST', `/v1/pause/${id}/respond`, { key: ws.ownerKey, body: { choice: 'Yes' } })).status).toBe(200);
    expect(await waited).toMatchObject({ status: 200, body: { pause_id: id, status: 'responded', response_choice: 'Yes' } });
  });

  it('a graceful stop waits out its own timeout past the request timeout (408 graceful_timeout, not a cut connection)', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('slow-to-stop');
    const s = await stream(agent.key);
    const res = await fetch(`${base}/v1/agents/${agent.id}/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ws.ownerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ graceful: true, timeout: REQUEST_MS + 1_000 }),
    });
    expect([res.status, ((await res.json()) as any).error.code]).toEqual([408, 'graceful_timeout']);
    await s.close();
  });

  it('a stream stays open past the headers and request timeouts', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('listener');
    const s = await stream(agent.key);
    await sleep(REQUEST_MS + 1_000);
    s.send({ type: 'ping' });
    await s.until((c) => c.frames.some((f) => f.type === 'pong'));
    expect(s.closed).toBeUndefined();
    await s.close();
  });
});

describe('long-polls and streams held at once', () => {
  /** Until this process holds n waits (a request in flight is admitted when its handler runs). */
  const held = (n: number) => expect.poll(() => t.app.waits.size).toBe(n);

  it(`a key holds at most ${PER_KEY} (long-polls and streams together); the next is refused 429 too_many_waits with Retry-After, a stream before its upgrade; one ending admits again`, async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('greedy');
    const other = await ws.agent('modest');
    const [p1, p2, p3] = [await ask(agent.key), await ask(agent.key), await ask(agent.key)];
    const first = longPoll(agent.key, `/v1/pause/${p1}?wait=30`);
    const second = longPoll(agent.key, `/v1/messages?wait=30`);
    const s = await stream(agent.key);
    await held(3);

    const refused = await longPoll(agent.key, `/v1/pause/${p3}?wait=30`);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('too_many_waits');
    expect(refused.headers.get('retry-after')).toBe('5');
    await expect(StreamClient.open(base, agent.key)).rejects.toMatchObject({ status: 429, body: { error: { code: 'too_many_waits' } } });
    // A read without a wait holds nothing, and another key has its own allowance.
    expect((await longPoll(agent.key, `/v1/pause/${p2}`)).status).toBe(200);
    const theirs = await stream(other.key);

    expect((await t.call('POST', `/v1/pause/${p1}/cancel`, { key: agent.key })).status).toBe(200);
    expect((await first).body.status).toBe('cancelled');
    const again = await stream(agent.key);
    await s.close();
    await again.close();
    await theirs.close();
    await t.call('POST', '/v1/messages', { key: other.key, body: { to: 'greedy', body: 'done' } });
    expect((await second).status).toBe(200);
    await held(0);
  });

  it(`a process holds at most ${PER_PROCESS} in all: then 503 unavailable with Retry-After, whatever the key; one ending admits again`, async () => {
    const ws = await t.workspace();
    const keys = [await ws.agent('one'), await ws.agent('two')];
    const open: StreamClient[] = [];
    for (let i = 0; i < PER_PROCESS; i++) open.push(await stream(keys[i % 2]!.key));
    await held(PER_PROCESS);
    const full = await longPoll(keys[1]!.key, '/v1/messages?wait=30');
    expect([full.status, full.body.error.code, full.headers.get('retry-after')]).toEqual([503, 'unavailable', '5']);
    await expect(StreamClient.open(base, keys[1]!.key)).rejects.toMatchObject({ status: 503 });
    await open.pop()!.close();
    await held(PER_PROCESS - 1);
    open.push(await stream(keys[1]!.key));
    await Promise.all(open.map((s) => s.close()));
    await held(0);
  });
});
