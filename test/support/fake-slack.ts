// A fake Slack on loopback: the Web API methods Leash calls (recorded, answered like Slack does,
// 429s on demand), a response_url sink, and requests signed exactly as Slack signs them.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

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
  /** Answer the next call of `method` with a 429 and this Retry-After (seconds). */
  rateLimitNext(method: string, retryAfter: number): void;
  /** Answer calls of `method` with `{ok: false, error}`. */
  failWith(method: string, error: string | undefined): void;
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
      const parsed: Record<string, any> = type.includes('json') ? JSON.parse(raw || '{}') : Object.fromEntries(new URLSearchParams(raw));
      // The SDK sends objects (blocks, view) as JSON strings inside the form.
      for (const k of ['blocks', 'view', 'attachments']) if (typeof parsed[k] === 'string') parsed[k] = JSON.parse(parsed[k]);
      if (path.startsWith('/respond/')) {
        fake.responses.push({ path, body: parsed, at: Date.now() });
        return res.writeHead(200).end('ok');
      }
      const method = path.replace(/^\/api\//, '');
      const retryAfter = limited.get(method);
      if (retryAfter !== undefined) {
        limited.delete(method);
        fake.calls.push({ method: `${method} (429)`, args: parsed, auth: req.headers.authorization, at: Date.now() });
        return res.writeHead(429, { 'retry-after': String(retryAfter), 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      }
      fake.calls.push({ method, args: parsed, auth: req.headers.authorization, at: Date.now() });
      const error = failing.get(method);
      const answer = error ? { ok: false, error } : method === 'chat.postMessage' ? { ok: true, channel: parsed.channel, ts: `${++ts}.000100` } : { ok: true };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.apiUrl = `${fake.url}/api/`;
  fake.rateLimitNext = (method, retryAfter) => void limited.set(method, retryAfter);
  fake.failWith = (method, error) => void (error ? failing.set(method, error) : failing.delete(method));
  fake.close = () => new Promise((r) => server.close(() => r()));
  return fake;
}

/** Headers for a body signed as Slack signs it (v0), at `at` seconds (default now). */
export function slackSignature(secret: string, body: string, at = Math.floor(Date.now() / 1000)): Record<string, string> {
  const sig = `v0=${createHmac('sha256', secret).update(`v0:${at}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(at), 'x-slack-signature': sig };
}
