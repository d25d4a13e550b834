// Slow clients and held connections, over real loopback sockets (what the server does to a socket
// cannot be seen through inject()): the headers and request timeouts, which must not cut long-polls,
// a graceful stop's wait or streams; the caps on long-polls and streams per key and per process; and
// the chat webhooks' body limits and deadline.
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { parseReply, slowRequest } from './support/slow-client.js';
import { StreamClient } from './support/stream-client.js';

const HEADERS_MS = 500;
const REQUEST_MS = 3_000;
const WEBHOOK_MS = 500;
const PER_KEY = 3;
const PER_PROCESS = 5;
/** The documented per-route body limits (docs/api.md, Limits). */
const WEBHOOK_BODY_LIMITS: Record<string, number> = {
  '/slack/events': 512 * 1024,
  '/telegram/webhook': 256 * 1024,
  '/sms/twilio': 64 * 1024,
};
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
  const res = await t.call('POST', '/v1/pause', {
    key,
    body: {
      recipient: 'a@example.com',
      channel: 'web',
      message: 'Ship it?',
      options: ['Yes', 'No'],
      timeout_seconds: 3600,
    },
  });
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
    const res = await slowRequest(port, {
      drip: `GET /healthz HTTP/1.1\r\nHost: leash\r\nX-Slow: ${'a'.repeat(500)}`,
      everyMs: 50,
      giveUpMs: 20 * HEADERS_MS,
    });
    expect(res.closedAfterMs).toBeDefined();
    expect(res.closedAfterMs!).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(parseReply(res.reply)).toMatchObject({
      status: 408,
      body: {
        error: {
          code: 'request_timeout',
          message: expect.stringContaining('headers within 0.5 s'),
          request_id: expect.stringMatching(/^req_/),
        },
      },
    });
  });

  it('a connection that sends nothing is closed after HEADERS_TIMEOUT_MS too', async () => {
    const res = await slowRequest(port, { giveUpMs: 20 * HEADERS_MS });
    expect(res.closedAfterMs).toBeDefined();
    expect(res.closedAfterMs!).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(parseReply(res.reply).status).toBe(408);
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
    expect(
      (await t.call('POST', `/v1/pause/${id}/respond`, { key: ws.ownerKey, body: { choice: 'Yes' } })).status,
    ).toBe(200);
    expect(await waited).toMatchObject({
      status: 200,
      body: { pause_id: id, status: 'responded', response_choice: 'Yes' },
    });
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
    await expect(StreamClient.open(base, agent.key)).rejects.toMatchObject({
      status: 429,
      body: { error: { code: 'too_many_waits' } },
    });
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

describe('chat webhook bodies', () => {
  const routes = [
    ['/slack/events', 'application/x-www-form-urlencoded', {}],
    ['/telegram/webhook', 'application/json', { 'x-telegram-bot-api-secret-token': 'telegram-secret' }],
    ['/sms/twilio', 'application/x-www-form-urlencoded', {}],
  ] as const;
  const head = (path: string, type: string, headers: Record<string, string>, length: number) =>
    `POST ${path} HTTP/1.1\r\nHost: leash\r\nContent-Type: ${type}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}Content-Length: ${length}\r\n\r\n`;

  it('a Content-Length over the route’s limit is refused at once with 413 and the connection closed, before any of the body is read', async () => {
    const slack = await slowRequest(port, {
      head: head('/slack/events', 'application/x-www-form-urlencoded', {}, 1_000_000),
      giveUpMs: 5_000,
    });
    expect(slack.closedAfterMs).toBeDefined();
    expect(parseReply(slack.reply)).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    for (const [path, type, headers] of routes) {
      const over = await slowRequest(port, {
        head: head(path, type, headers, WEBHOOK_BODY_LIMITS[path]! + 1),
        giveUpMs: 5_000,
      });
      expect([path, parseReply(over.reply).status, over.closedAfterMs !== undefined]).toEqual([path, 413, true]);
    }
  });

  it('a body at the route’s limit is read (and then refused by its signature check)', async () => {
    for (const [path, type, headers] of routes) {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, ...headers },
        body: 'a'.repeat(WEBHOOK_BODY_LIMITS[path]!),
      });
      // Telegram's route acknowledges a body that is not an update (Telegram would resend it for ever).
      expect([path, res.status]).toEqual([path, path === '/telegram/webhook' ? 200 : 401]);
    }
  });

  it('a slow body is cut off WEBHOOK_BODY_TIMEOUT_MS after its headers, well before the request timeout (also past a route’s own header check)', async () => {
    for (const [path, type, headers] of routes) {
      const res = await slowRequest(port, {
        head: head(path, type, headers, 1_000),
        drip: 'a'.repeat(1_000),
        everyMs: 100,
        giveUpMs: 5 * REQUEST_MS,
      });
      expect(res.closedAfterMs).toBeDefined();
      expect(res.closedAfterMs!).toBeGreaterThanOrEqual(WEBHOOK_MS - 50);
      expect(res.closedAfterMs!).toBeLessThan(REQUEST_MS);
      expect([path, parseReply(res.reply)]).toMatchObject([
        path,
        { status: 408, body: { error: { code: 'request_timeout', message: expect.stringContaining('webhook body') } } },
      ]);
    }
  });
});
