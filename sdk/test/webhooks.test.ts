// verifyWebhook against what Leash really sends to an agent's delivery_url, and against forgeries.
import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../../test/support/app.js';
import { startReceiver, type Receiver } from '../../test/support/receiver.js';
import { useWorkers } from '../../test/support/worker.js';
import { verifyWebhook, WebhookVerificationError } from '../src/index.js';

const t = useTestApp();
const worker = useWorkers(t);
let r: Receiver;

beforeAll(async () => {
  r = await startReceiver();
});
afterAll(() => r.close());

describe('verifyWebhook', () => {
  it('accepts a real delivery and returns its event; refuses it tampered, re-signed wrongly, or stale', async () => {
    await worker();
    const ws = await t.workspace();
    const a = await ws.agent('hooked', { delivery_url: `${r.url}/leash` });
    const secret: string = a.body.delivery_secret;
    expect(secret).toMatch(/^whsec_/);
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send', reason: 'review' } });
    await expect.poll(() => r.requests.some((x) => x.json?.type === 'agent.paused')).toBe(true);
    const req = r.requests.find((x) => x.json?.type === 'agent.paused')!;

    const event = verifyWebhook<{ id: string; pause: { reason: string } }>({
      secret,
      headers: req.headers,
      body: req.body,
    });
    expect(event.type).toBe('agent.paused');
    expect(event.data).toMatchObject({ id: a.id, pause: { reason: 'review' } });
    // A Buffer body and a fetch Headers object work the same.
    const headers = new Headers(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    expect(verifyWebhook({ secret, headers, body: Buffer.from(req.body) }).type).toBe('agent.paused');

    const refused = (opts: Partial<Parameters<typeof verifyWebhook>[0]>) => () =>
      verifyWebhook({ secret, headers: req.headers, body: req.body, ...opts });
    expect(refused({ body: req.body.replace('review', 'revieW') })).toThrow(WebhookVerificationError);
    expect(refused({ secret: `whsec_${randomBytes(24).toString('base64')}` })).toThrow(WebhookVerificationError);
    expect(refused({ headers: { ...req.headers, 'webhook-id': 'msg_other' } })).toThrow(WebhookVerificationError);
    expect(refused({ now: Date.now() + 6 * 60_000 })).toThrow(/too far/);
    expect(refused({ now: Date.now() - 6 * 60_000 })).toThrow(/too far/);
    expect(refused({ headers: { 'webhook-id': 'x', 'webhook-timestamp': '1' } })).toThrow(/missing/);
  });

  it('accepts any one valid signature of several (a secret being rotated)', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const id = 'msg_1';
    const ts = String(Math.floor(Date.now() / 1000));
    const body = '{"type":"agent.unpaused","timestamp":"now","data":{}}';
    const sig = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${id}.${ts}.${body}`)
      .digest('base64');
    const headers = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,AAAA v1,${sig}` };
    expect(verifyWebhook({ secret, headers, body }).type).toBe('agent.unpaused');
    expect(() => verifyWebhook({ secret, headers: { ...headers, 'webhook-signature': `v2,${sig}` }, body })).toThrow();
  });
});
