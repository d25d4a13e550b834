// A fake Slack on loopback: the Web API methods Leash calls (recorded, answered like Slack does,
// 429s on demand), a response_url sink, and requests signed exactly as Slack signs them.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SlackCall {
  method: string;
  args: Record<string, any>;
  auth: string | undefined;
  at: number;
}

export interface FakeSlack {
  url: string;
  apiUrl: string;
  calls: SlackCall[];
  /** POSTs to response URLs, by path. */
  responses: { path: string; body: any; at: number }[];
  /** Answer the next call of `method` (to `channel`, if given) with a 429 and this Retry-After (seconds). */
  rateLimitNext(method: string, retryAfter: number, channel?: string): void;
  /** Answer calls of `method` with `{ok: false, error}`. */
  failWith(method: string, error: string | undefined): void;
  /** Socket Mode: envelopes sent to the connected app, and its acks by envelope id. */
  socket: { connected(): boolean; send(envelope: Record<string, unknown>): void; acks: Map<string, any> };
  close(): Promise<void>;
}

export async function startFakeSlack(): Promise<FakeSlack> {
  const limited = new Map<string, number>();
  const failing = new Map<string, string>();
  let ts = 1_700_000_000;
  const fake = { calls: [] as SlackCall[], responses: [] as FakeSlack['responses'] } as FakeSlack;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const type = req.headers['content-type'] ?? '';
      const parsed: Record<string, any> = type.includes('json')
        ? JSON.parse(raw || '{}')
        : Object.fromEntries(new URLSearchParams(raw));
      // The SDK sends objects (blocks, view) as JSON strings inside the form.
      for (const k of ['blocks', 'view', 'attachments'])
        if (typeof parsed[k] === 'string') parsed[k] = JSON.parse(parsed[k]);
      if (path.startsWith('/respond/')) {
        fake.responses.push({ path, body: parsed, at: Date.now() });
        return res.writeHead(200).end('ok');
      }
      const method = path.replace(/^\/api\//, '');
      const key = limited.has(`${method} ${parsed.channel}`) ? `${method} ${parsed.channel}` : method;
      const retryAfter = limited.get(key);
      if (retryAfter !== undefined) {
        limited.delete(key);
        fake.calls.push({ method: `${method} (429)`, args: parsed, auth: req.headers.authorization, at: Date.now() });
        return res
          .writeHead(429, { 'retry-after': String(retryAfter), 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      }
      fake.calls.push({ method, args: parsed, auth: req.headers.authorization, at: Date.now() });
      const error = failing.get(method);
      const answer = error
        ? { ok: false, error }
        : method === 'chat.postMessage'
          ? { ok: true, channel: parsed.channel, ts: `${++ts}.000100` }
          : method === 'apps.connections.open'
            ? { ok: true, url: `${fake.url.replace('http', 'ws')}/socket` }
            : { ok: true };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  // Socket Mode: Slack says hello, then sends envelopes; the app acks each by envelope_id.
  const wss = new WebSocketServer({ server, path: '/socket' });
  let peer: WebSocket | undefined;
  const acks = new Map<string, any>();
  wss.on('connection', (ws) => {
    peer = ws;
    ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.envelope_id) acks.set(m.envelope_id, m.payload ?? {});
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake' },
        connection_info: { app_id: 'A0LEASH' },
      }),
    );
  });
  fake.socket = {
    connected: () => peer?.readyState === 1,
    send: (envelope) => peer!.send(JSON.stringify(envelope)),
    acks,
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.apiUrl = `${fake.url}/api/`;
  fake.rateLimitNext = (method, retryAfter, channel) =>
    void limited.set(channel ? `${method} ${channel}` : method, retryAfter);
  fake.failWith = (method, error) => void (error ? failing.set(method, error) : failing.delete(method));
  fake.close = () =>
    new Promise((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close(() => r());
    });
  return fake;
}

/** Headers for a body signed as Slack signs it (v0), at `at` seconds (default now). */
export function slackSignature(
  secret: string,
  body: string,
  at = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const sig = `v0=${createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(at), 'x-slack-signature': sig };
}

/** A slash command's form body as Slack posts it, before signing. */
export function commandForm(p: {
  team: string;
  user: string;
  command: string;
  text: string;
  channel: string;
  responseUrl: string;
  extra?: Record<string, string>;
}): string {
  return new URLSearchParams({
    command: p.command,
    text: p.text,
    team_id: p.team,
    user_id: p.user,
    channel_id: p.channel,
    trigger_id: 'trig',
    response_url: p.responseUrl,
    ...p.extra,
  }).toString();
}

/** A button click's form body (block_actions) as Slack posts it, before signing. */
export function clickForm(p: {
  team: string;
  user: string;
  value: string;
  index: number;
  channel: string;
  responseUrl: string;
}): string {
  const payload = {
    type: 'block_actions',
    team: { id: p.team },
    user: { id: p.user, team_id: p.team },
    trigger_id: `trig-${randomBytes(3).toString('hex')}`,
    response_url: p.responseUrl,
    actions: [{ type: 'button', action_id: `leash.decide.${p.index}`, block_id: 'b', value: p.value, action_ts: '1' }],
    channel: { id: p.channel },
    container: { type: 'message' },
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
