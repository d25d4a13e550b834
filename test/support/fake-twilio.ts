// A fake Twilio REST API on loopback (Messages.create, 429 on demand), and inbound webhooks signed
// exactly as Twilio signs them: HMAC-SHA1 over the URL and the sorted parameters, base64. Written
// out by hand, not with the twilio library Leash verifies with.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
export const AUTH_TOKEN = 'twilio-auth-token-for-tests';
export const FROM = '+15550100000';

export interface Sms {
  to: string;
  from: string;
  body: string;
  at: number;
}

export interface FakeTwilio {
  url: string;
  sent: Sms[];
  /** Answer the next message to `to` with 429 (aimed, so re-armed jobs of other tests cannot take it). */
  rateLimitNext(to: string): void;
  close(): Promise<void>;
}

export async function startFakeTwilio(): Promise<FakeTwilio> {
  const limited = new Set<string>();
  const fake = { sent: [] as Sms[] } as FakeTwilio;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const auth = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (auth !== `${ACCOUNT_SID}:${AUTH_TOKEN}`)
        return json(401, { code: 20003, message: 'Authenticate', status: 401 });
      if (req.url !== `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`)
        return json(404, { code: 20404, message: 'Not found', status: 404 });
      const p = Object.fromEntries(new URLSearchParams(raw));
      if (limited.delete(p.To!)) return json(429, { code: 20429, message: 'Too Many Requests', status: 429 });
      fake.sent.push({ to: p.To!, from: p.From!, body: p.Body!, at: Date.now() });
      json(201, {
        sid: `SM${randomBytes(16).toString('hex')}`,
        account_sid: ACCOUNT_SID,
        to: p.To,
        from: p.From,
        body: p.Body,
        status: 'queued',
        num_segments: '1',
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.rateLimitNext = (to) => void limited.add(to);
  fake.close = () =>
    new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return fake;
}

export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** An inbound SMS as Twilio posts it to `app`, signed for `publicUrl` (or with `signature`, or
 *  none for null); the answer, and its TwiML reply's text with XML's escapes undone. */
export async function inboundSms(
  app: { inject: (opts: any) => Promise<{ statusCode: number; body: string }> },
  publicUrl: string,
  from: string,
  body: string,
  opts: { sid?: string; signature?: string | null } = {},
): Promise<{ status: number; body: string; text: string }> {
  const params = {
    AccountSid: ACCOUNT_SID,
    MessageSid: opts.sid ?? `SM${randomBytes(16).toString('hex')}`,
    From: from,
    To: FROM,
    Body: body,
    NumMedia: '0',
  };
  const signature =
    opts.signature === undefined ? twilioSignature(AUTH_TOKEN, `${publicUrl}/sms/twilio`, params) : opts.signature;
  const res = await app.inject({
    method: 'POST',
    url: '/sms/twilio',
    payload: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature === null ? {} : { 'x-twilio-signature': signature }),
    },
  });
  const text = /<Message>([\s\S]*)<\/Message>/.exec(res.body)?.[1] ?? '';
  return {
    status: res.statusCode,
    body: res.body,
    text: text
      .replace(/&apos;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  };
}
