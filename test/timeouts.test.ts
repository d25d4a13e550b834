// Slow clients, over real loopback sockets (what the server does to a socket cannot be seen through
// inject()): the headers and request timeouts cut a client that sends its request slowly, and must
// not cut long-polls, a graceful stop's wait or streams.
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
