// Rate limits (contract §3.8): requests per API key, failed authentications per client address,
// counted in real Redis (the shared server, under this file's own QUEUE_PREFIX), through inject()
// with the client address set per request. What is not limited is checked too.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../src/auth/keys.js';
import { loadConfig } from '../src/config.js';
import { newId } from '../src/db/index.js';
import { buildDeps, buildWeb, closeDeps, type Deps } from '../src/app.js';
import { FLUSH_MS } from '../src/http/shared-counts.js';
import { withSecret } from '../src/secret.js';
import { testConfig, useTestApp } from './support/app.js';
import { slackSignature } from './support/fake-slack.js';
import { wellInsideAMinute } from './support/windows.js';

const PER_KEY = 8;
const FAILURES = 4;
const t = useTestApp({
  RATE_LIMIT_PER_MINUTE: String(PER_KEY),
  AUTH_FAILURES_PER_MINUTE: String(FAILURES),
  // The chat webhooks are on (their requests are refused by signature, which is all these tests need).
  SLACK_SIGNING_SECRET: 'slack-secret',
  SLACK_BOT_TOKEN: 'xoxb-test',
  SLACK_API_URL: 'http://127.0.0.1:9/api/',
  TELEGRAM_BOT_TOKEN: '123:test',
  TELEGRAM_WEBHOOK_SECRET: 'telegram-secret',
  TELEGRAM_API_ROOT: 'http://127.0.0.1:9',
  TWILIO_AUTH_TOKEN: 'twilio-token',
});

beforeEach(wellInsideAMinute);

/** A fresh client address per test (inject() sends no packet anywhere: it only sets req.ip). */
let lastOctet = 10;
const newAddress = () => `198.51.100.${lastOctet++}`;

async function get(app: FastifyInstance, url: string, opts: { key?: string; from?: string } = {}) {
  const res = await app.inject({
    method: 'GET',
    url,
    remoteAddress: opts.from ?? '127.0.0.1',
    headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {},
  });
  const json = res.headers['content-type']?.toString().startsWith('application/json');
  return { status: res.statusCode, headers: res.headers, body: json ? JSON.parse(res.body) : res.body };
}

const me = (key: string, from?: string) => get(t.app, '/v1/agents/me', { key, from });

/** An agent of a new workspace: its own key, with this minute's allowance untouched. */
async function freshAgent() {
  const ws = await t.workspace();
  return ws.agent(`a-${randomBytes(3).toString('hex')}`);
}

describe('requests per API key', () => {
  it('a key makes RATE_LIMIT_PER_MINUTE requests a minute with RateLimit-* on every answer, then 429 rate_limited with Retry-After', async () => {
    const agent = await freshAgent();
    for (let i = 1; i <= PER_KEY; i++) {
      const res = await me(agent.key);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe(String(PER_KEY));
      expect(res.headers['ratelimit-remaining']).toBe(String(PER_KEY - i));
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0);
      expect(Number(res.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    }
    const over = await me(agent.key);
    expect(over.status).toBe(429);
    expect(over.body).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringMatching(/8 requests for this minute; retry in \d+ s/),
        request_id: expect.any(String),
      },
    });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(over.headers['ratelimit-remaining']).toBe('0');
  });

  it('counts every route and method of the key together, and a 403 of a valid key counts too', async () => {
    const agent = await freshAgent();
    for (let i = 0; i < PER_KEY / 2; i++) expect((await me(agent.key)).status).toBe(200);
    for (let i = 0; i < PER_KEY / 2; i++)
      expect((await get(t.app, '/v1/members', { key: agent.key })).status).toBe(403);
    expect((await get(t.app, '/v1/blocks', { key: agent.key })).status).toBe(429);
  });

  it('counts by API key, not by member or agent: two keys of one member count apart', async () => {
    const ws = await t.workspace();
    const second = generateKey('member');
    await t.deps.db
      .insertInto('api_keys')
      .values({ id: newId(), workspace_id: ws.id, prefix: second.prefix, key_hash: second.hash, member_id: ws.ownerId })
      .execute();
    for (let i = 0; i < PER_KEY; i++)
      expect((await get(t.app, '/v1/members/me', { key: ws.ownerKey })).status).toBe(200);
    expect((await get(t.app, '/v1/members/me', { key: ws.ownerKey })).status).toBe(429);
    const other = await get(t.app, '/v1/members/me', { key: second.key });
    expect(other.status).toBe(200);
    expect(other.headers['ratelimit-remaining']).toBe(String(PER_KEY - 1));
  });

  it('does not limit what has no key: the chat webhooks, the response page and /healthz answer past any limit, with no RateLimit headers', async () => {
    const from = newAddress();
    const slackBody = 'command=%2Fstatus&text=';
    for (let i = 0; i < 3 * Math.max(PER_KEY, FAILURES); i++) {
      const slack = await t.app.inject({
        method: 'POST',
        url: '/slack/events',
        remoteAddress: from,
        payload: slackBody,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature('wrong-secret', slackBody) },
      });
      expect(slack.statusCode).toBe(401);
      const telegram = await t.app.inject({
        method: 'POST',
        url: '/telegram/webhook',
        remoteAddress: from,
        payload: { update_id: i },
        headers: { 'x-telegram-bot-api-secret-token': 'wrong' },
      });
      expect(telegram.statusCode).toBe(401);
      const sms = await t.app.inject({
        method: 'POST',
        url: '/sms/twilio',
        remoteAddress: from,
        payload: 'From=%2B15550100&Body=1&MessageSid=SM1',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
      });
      expect(sms.statusCode).toBe(401);
      expect((await get(t.app, '/r/not-a-token', { from })).status).toBe(404);
      const health = await get(t.app, '/healthz', { from });
      expect(health.status).toBe(200);
      for (const res of [slack, telegram, sms]) expect(res.headers['ratelimit-limit']).toBeUndefined();
      expect(health.headers['ratelimit-limit']).toBeUndefined();
    }
    // A vendor's refused signature is not a failed API authentication: the address is not refused.
    const agent = await freshAgent();
    expect((await me(agent.key, from)).status).toBe(200);
  });
});

describe('failed authentication per client address', () => {
  it('after AUTH_FAILURES_PER_MINUTE missing, unknown or revoked keys, the address is refused before any key is looked up, even with a valid key; other addresses are served', async () => {
    const agent = await freshAgent();
    const revoked = await freshAgent();
    await t.deps.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('agent_id', '=', revoked.id)
      .execute();
    const from = newAddress();
    const failures = [
      await get(t.app, '/v1/agents/me', { from }),
      await me('lsh_a_unknownunknownunknownunknownunknownunknown', from),
      await me(revoked.key, from),
      await me('not-even-a-key', from),
    ];
    expect(failures.map((r) => [r.status, r.body.error.code])).toEqual(
      Array.from({ length: FAILURES }, () => [401, 'unauthorized']),
    );
    const refused = await me(agent.key, from);
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: {
        code: 'rate_limited',
        message: expect.stringMatching(/failed authentications from your address; retry in \d+ s/),
        request_id: expect.any(String),
      },
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['ratelimit-limit']).toBe(String(FAILURES));
    // Refused without a key being read: the valid key's own allowance is untouched.
    const elsewhere = await me(agent.key, newAddress());
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers['ratelimit-remaining']).toBe(String(PER_KEY - 1));
    // Public routes still answer that address.
    expect((await get(t.app, '/healthz', { from })).status).toBe(200);
  });

  it('a bad key at the dashboard sign-in counts against the address as on the API', async () => {
    const ws = await t.workspace();
    const from = newAddress();
    const login = await t.app.inject({ method: 'GET', url: '/login', remoteAddress: from });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
    const cookie = [login.headers['set-cookie']]
      .flat()
      .map((c) => String(c).split(';')[0])
      .join('; ');
    const signIn = (key: string) =>
      t.app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: from,
        payload: new URLSearchParams({ _csrf: csrf, key }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      });
    for (let i = 0; i < FAILURES - 1; i++) expect((await signIn('lsh_m_wrong')).statusCode).toBe(401);
    expect((await get(t.app, '/v1/members/me', { from })).status).toBe(401);
    const page = await signIn(ws.ownerKey);
    expect(page.statusCode).toBe(429);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toMatch(/failed authentications from your address/);
    expect(Number(page.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get(t.app, '/v1/members/me', { key: ws.ownerKey, from })).status).toBe(429);
  });
});

describe('where the counts live', () => {
  const extra: { app: FastifyInstance; deps: Deps }[] = [];
  afterAll(async () => {
    for (const e of extra) {
      await e.app.close();
      await closeDeps(e.deps);
    }
  });
  async function server(env: Record<string, string>) {
    const deps = buildDeps(await withSecret(testConfig(t.config.databaseUrl, env)));
    const app = await buildWeb(deps);
    await app.ready();
    extra.push({ app, deps });
    return app;
  }

  it('in queue mode every web process shares them (Redis), a flush late at most', async () => {
    // A second web process on the same database and Redis namespace.
    const other = await server({ QUEUE_PREFIX: t.config.queuePrefix, RATE_LIMIT_PER_MINUTE: String(PER_KEY) });
    const agent = await freshAgent();
    for (let i = 0; i < PER_KEY - 1; i++)
      expect((await get(t.app, '/v1/agents/me', { key: agent.key })).status).toBe(200);
    // Once this process's counts are in Redis (FLUSH_MS), the other one sees them with its next request…
    await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
    expect((await get(other, '/v1/agents/me', { key: agent.key })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
    // …and both refuse once the key has made PER_KEY requests between them: the other at once (its
    // flush brought this process's count back), this one once it has heard of the other's request
    // (a request counted on a count a flush old may pass; the next flush corrects it).
    expect((await get(other, '/v1/agents/me', { key: agent.key })).status).toBe(429);
    await get(t.app, '/v1/agents/me', { key: agent.key });
    await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
    expect((await get(t.app, '/v1/agents/me', { key: agent.key })).status).toBe(429);
  });

  it('a request never waits for Redis: refusing connections or hung, every process still limits on its own counts', async () => {
    const closed = await unusedPort();
    const hung = await hungRedis();
    try {
      for (const url of [`redis://127.0.0.1:${closed}`, hung.url]) {
        const app = await server({ REDIS_URL: url, RATE_LIMIT_PER_MINUTE: '3', AUTH_FAILURES_PER_MINUTE: '2' });
        if (url === hung.url) await hung.answered;
        const agent = await freshAgent();
        const from = newAddress();
        const started = Date.now();
        for (let i = 0; i < 3; i++) expect((await get(app, '/v1/agents/me', { key: agent.key })).status).toBe(200);
        expect((await get(app, '/v1/agents/me', { key: agent.key })).status).toBe(429);
        for (let i = 0; i < 2; i++)
          expect((await get(app, '/v1/agents/me', { key: 'lsh_a_nope', from })).status).toBe(401);
        expect((await get(app, '/v1/agents/me', { key: 'lsh_a_nope', from })).status).toBe(429);
        // No request waited out Redis's 100 ms command timeout (eight answers well inside it).
        expect(Date.now() - started).toBeLessThan(100);
        await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
      }
      expect(hung.commandsIgnored()).toBeGreaterThan(0);
    } finally {
      await hung.close();
    }
  });
});

describe('configuration', () => {
  it('defaults are the documented figures; a headers timeout longer than the request timeout is refused', () => {
    expect(loadConfig({}).limits).toEqual({
      perKeyPerMinute: 1200,
      authFailuresPerMinute: 30,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      webhookBodyTimeoutMs: 5_000,
      waitsPerKey: 20,
      waitsPerProcess: 20_000,
    });
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(
      /HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS/,
    );
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });
});

async function unusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A Redis that answers the client's ready check and then never answers again: what a stalled
 *  server looks like to the client. */
async function hungRedis(): Promise<{
  url: string;
  answered: Promise<void>;
  commandsIgnored(): number;
  close(): Promise<void>;
}> {
  let ignored = 0;
  let answer = () => {};
  // The client reads the reply on its next turn of the event loop: a little later it is ready.
  const answered = new Promise<void>((r) => (answer = () => setTimeout(r, 50)));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (data) => {
      for (const command of String(data).split(/(?=\*\d+\r\n)/)) {
        if (/setinfo/i.test(command)) socket.write('+OK\r\n');
        else if (/^\*1\r\n\$4\r\ninfo\r\n$/i.test(command)) {
          socket.write('$9\r\nloading:0\r\n');
          answer();
        } else ignored++;
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    answered,
    commandsIgnored: () => ignored,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
