// messages(): the inbox in seq order over the WebSocket stream, through cuts, exactly once; the
// long-poll fallback when the socket cannot open; control events to on() handlers.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from '../../test/support/app.js';
import { Leash, type ControlEvent } from '../src/index.js';
import { listen } from './support/leash.js';
import { startProxy } from './support/proxy.js';

const t = useTestApp();
let base: string;
let ws: Workspace;

beforeAll(async () => {
  base = await listen(t);
  ws = await t.workspace();
});

/** Sends n messages from `key` to `to`, numbered from `from`, a few at a time (seq is the server's). */
async function sendMany(key: string, to: string, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i += 50) {
    const batch = Array.from({ length: Math.min(50, from + n - i) }, (_, j) => i + j);
    // In order within the batch: each send awaited before the next, so body.n follows seq.
    for (const k of batch) {
      const res = await t.call('POST', '/v1/messages', { key, body: { to, body: { n: k } } });
      if (res.status !== 202) throw new Error(JSON.stringify(res.body));
    }
  }
}

/** Server-side cut: every open stream socket of this web process is dropped without a close frame. */
function cutStreams(): number {
  const clients = [...t.app.websocketServer.clients];
  for (const c of clients) c.terminate();
  return clients.length;
}

async function backlog(agentId: string): Promise<number> {
  const res = await t.call('GET', `/v1/agents/${agentId}`, { key: ws.ownerKey });
  return res.body.backlog.undelivered;
}

describe('messages()', () => {
  it('1,000 messages with the stream cut three times: 1..1000 exactly once, in order, all acked', async () => {
    const rx = await ws.agent('inbox');
    const tx = await ws.agent('outbox');
    await sendMany(tx.key, 'inbox', 1, 500);
    const leash = new Leash({ baseUrl: base, apiKey: rx.key });
    const controller = new AbortController();
    const got: number[] = [];
    const seqs: number[] = [];
    let cuts = 0;
    const sending = sendMany(tx.key, 'inbox', 501, 500);
    for await (const m of leash.messages<{ n: number }>({ signal: controller.signal })) {
      got.push(m.body.n);
      seqs.push(m.seq);
      if (got.length % 250 === 0 && got.length < 1000) {
        expect(cutStreams()).toBeGreaterThan(0);
        cuts++;
      }
      if (got.length === 1000) break;
    }
    await sending;
    expect(cuts).toBe(3);
    expect(got).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(seqs).toEqual(got);
    // The 1,000th was handed out but its turn never ended (the loop broke): 999 acked.
    await expect.poll(() => backlog(rx.id)).toBe(1);
  }, 60_000);

  it('acks each message when the loop asks for the next, and resumes after the last acked one', async () => {
    const rx = await ws.agent('resume');
    const tx = await ws.agent('resume-tx');
    await sendMany(tx.key, 'resume', 1, 5);
    const leash = new Leash({ baseUrl: base, apiKey: rx.key });
    const first: number[] = [];
    for await (const m of leash.messages<{ n: number }>()) {
      first.push(m.body.n);
      if (first.length === 3) break;
    }
    expect(first).toEqual([1, 2, 3]);
    await expect.poll(() => backlog(rx.id)).toBe(3);
    const controller = new AbortController();
    const again: number[] = [];
    for await (const m of leash.messages<{ n: number }>({ signal: controller.signal })) {
      again.push(m.body.n);
      if (again.length === 3) controller.abort();
    }
    // Message 3 was never acked, so it comes again: at least once, in order.
    expect(again).toEqual([3, 4, 5]);
  });

  it('falls back to long-poll sync when the socket cannot open, in order and acked', async () => {
    const rx = await ws.agent('polled');
    const tx = await ws.agent('polled-tx');
    await sendMany(tx.key, 'polled', 1, 120);
    const proxy = await startProxy(base);
    try {
      const leash = new Leash({ baseUrl: proxy.url, apiKey: rx.key });
      const controller = new AbortController();
      const got: number[] = [];
      const loop = (async () => {
        for await (const m of leash.messages<{ n: number }>({ signal: controller.signal })) got.push(m.body.n);
      })();
      await expect.poll(() => got.length).toBe(120);
      expect(got).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      await expect.poll(() => backlog(rx.id)).toBe(0);
      expect(proxy.upgrades).toBe(1);
      expect(proxy.seen.some((s) => s.url.startsWith('/v1/messages?'))).toBe(true);
      controller.abort();
      await loop;
    } finally {
      await proxy.close();
    }
  });

  it('ends when the agent is stopped (the server closes the stream with 4000)', async () => {
    const rx = await ws.agent('stopped-reader');
    const leash = new Leash({ baseUrl: base, apiKey: rx.key });
    const loop = (async () => {
      for await (const _ of leash.messages()) void _;
      return 'ended';
    })();
    await expect
      .poll(async () => (await t.call('GET', `/v1/agents/${rx.id}`, { key: ws.ownerKey })).body.presence)
      .toBe('online');
    const stop = await t.call('POST', `/v1/agents/${rx.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    expect(stop.status).toBe(200);
    expect(await loop).toBe('ended');
  });
});

describe('on()', () => {
  it('hears paused and unpaused from the stream, once each, with the agent as data', async () => {
    const a = await ws.agent('listener');
    const leash = new Leash({ baseUrl: base, apiKey: a.key });
    const heard: ControlEvent[] = [];
    const offPaused = leash.on('paused', (e) => void heard.push(e));
    leash.on('unpaused', (e) => void heard.push(e));
    try {
      await expect
        .poll(async () => (await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.presence)
        .toBe('online');
      await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full', reason: 'audit' } });
      await expect.poll(() => heard.map((e) => e.event)).toEqual(['paused']);
      expect(heard[0]!.data).toMatchObject({ id: a.id, status: 'paused', pause: { mode: 'full', reason: 'audit' } });
      await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
      await expect.poll(() => heard.map((e) => e.event)).toEqual(['paused', 'unpaused']);
      // A pause while the stream is cut is still heard once it is back (from the ready frame's agent,
      // or the event itself if the reconnect won the race), and nothing comes twice.
      expect(cutStreams()).toBe(1);
      await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
      await expect.poll(() => heard.map((e) => e.event)).toEqual(['paused', 'unpaused', 'paused']);
      await expect.poll(() => t.app.websocketServer.clients.size).toBe(1);
      offPaused();
      await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
      await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
      await expect.poll(() => heard.map((e) => e.event)).toEqual(['paused', 'unpaused', 'paused', 'unpaused']);
      await new Promise((r) => setTimeout(r, 200));
      expect(heard.length).toBe(4);
    } finally {
      leash.close();
    }
    // close() ends the event stream's socket, not only its reconnect loop.
    await expect.poll(() => t.app.websocketServer.clients.size).toBe(0);
  });

  it('stop_requested, then confirmStopped() completes a graceful stop', async () => {
    const a = await ws.agent('graceful');
    const leash = new Leash({ baseUrl: base, apiKey: a.key });
    leash.on('stop_requested', async () => void (await leash.confirmStopped()));
    try {
      await expect
        .poll(async () => (await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.presence)
        .toBe('online');
      const stop = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { timeout: 10_000 } });
      expect(stop.status).toBe(200);
      expect(stop.body).toMatchObject({ status: 'inactive' });
    } finally {
      leash.close();
    }
  });
});
