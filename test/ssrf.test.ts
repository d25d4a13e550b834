// With ALLOW_PRIVATE_URLS=false (production's default) delivery targets must be public.
import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { signedPost } from '../src/delivery/signed-post.js';
import { guardedDispatcher } from '../src/net/targets.js';
import { useTestApp } from './support/app.js';
import { startReceiver } from './support/receiver.js';

const t = useTestApp({ ALLOW_PRIVATE_URLS: 'false' });

describe('SSRF guard on delivery_url', () => {
  it.each([
    'http://127.0.0.1:8080/x',
    'http://localhost/x',
    'http://10.0.0.5/x',
    'http://192.168.1.1/x',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/x',
    'http://[::ffff:127.0.0.1]/x',
    // IPv4-compatible IPv6 (deprecated): URL parsing writes it as [::7f00:1], which reads as unicast.
    'http://[::127.0.0.1]/x',
    'http://[::7f00:1]/x',
    'http://[::10.0.0.5]/x',
    'http://[::169.254.169.254]/x',
    'http://0.0.0.0/x',
  ])('refuses %s with 400 naming delivery_url, creating nothing', async (url) => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'probe', delivery_url: url } });
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('delivery_url');
    expect((await t.call('GET', '/v1/agents', { key: ws.ownerKey })).body.data).toEqual([]);
  });

  it('refuses URLs with credentials and accepts a public address literal', async () => {
    const ws = await t.workspace();
    const creds = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'c', delivery_url: 'https://u:p@93.184.216.34/x' },
    });
    expect(creds.status).toBe(400);
    // A literal public address needs no DNS, so this stays on the machine (nothing is sent).
    const ok = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'ok', delivery_url: 'https://93.184.216.34/hook' },
    });
    expect(ok.status).toBe(201);
  });

  it('PATCH is guarded too', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('patched');
    const res = await t.call('PATCH', `/v1/agents/${a.id}`, {
      key: ws.ownerKey,
      body: { delivery_url: 'http://127.0.0.1/x' },
    });
    expect(res.status).toBe(400);
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.delivery_url).toBeNull();
  });
});

describe('SSRF guard on webhook endpoints', () => {
  it('refuses a private webhook URL with 400 naming url, creating nothing', async () => {
    const ws = await t.workspace();
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost/hook', 'http://10.1.2.3/hook']) {
      const res = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body: { url } });
      expect(res.status, url).toBe(400);
      expect(res.body.error.fields[0].field).toBe('url');
    }
    expect((await t.call('GET', '/v1/webhooks', { key: ws.ownerKey })).body.data).toEqual([]);
  });
});

describe('SSRF guard at send time', () => {
  it('the connection itself refuses a name that resolves to a private address (DNS rebinding)', async () => {
    const r = await startReceiver();
    try {
      const url = r.url.replace('127.0.0.1', 'localhost');
      // Sanity: reachable without the guard.
      expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(200);
      await expect(fetch(url, { method: 'POST', body: '{}', dispatcher: guardedDispatcher() })).rejects.toThrow();
      expect(r.requests).toHaveLength(1);
      await expect(
        signedPost({
          url,
          secret: 'whsec_' + Buffer.alloc(24).toString('base64'),
          id: 'x',
          body: '{}',
          allowPrivateUrls: false,
        }),
      ).rejects.toThrow(/refused/);
      expect(r.requests).toHaveLength(1);
    } finally {
      await r.close();
    }
  });
});
