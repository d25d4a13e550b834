// ask survives what happens to servers: a restart in the middle of its wait, and an answer lost on
// its way back (the approval was made, the client never heard). Either way it asks exactly once.
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { loggedServer, useTestApp, type Workspace } from '../../test/support/app.js';
import { Leash } from '../src/index.js';
import { allApprovals, listen, onePending, respond } from './support/leash.js';
import { startProxy } from './support/proxy.js';

const t = useTestApp();
let ws: Workspace;

beforeAll(async () => {
  ws = await t.workspace();
});

describe('ask through failures', () => {
  it('a server restart mid-wait: the wait resumes on the new server, one approval, the right decision', async () => {
    const a = await ws.agent('restarted');
    // A web process of its own on the test database, so it can go away and come back on its port.
    const first = await loggedServer(t);
    await first.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (first.app.server.address() as AddressInfo).port;
    const leash = new Leash({ baseUrl: `http://127.0.0.1:${port}`, apiKey: a.key });
    let settled = false;
    const asking = leash
      .ask({ message: 'Ship it?', options: ['Ship', 'Hold'] as const, recipient: 'lead@acme.com' })
      .finally(() => (settled = true));
    const p = await onePending(t, ws, a.id);
    // Let the long-poll be under way, then take the server down under it.
    await new Promise((r) => setTimeout(r, 200));
    first.app.server.closeAllConnections();
    await first.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false);
    const second = await loggedServer(t);
    try {
      await second.app.listen({ host: '127.0.0.1', port });
      await respond(t, ws, p.pause_id, 'Hold');
      const d = await asking;
      expect(d).toMatchObject({ id: p.pause_id, status: 'responded', choice: 'Hold' });
      expect((await allApprovals(t, ws, a.id)).map((x) => x.pause_id)).toEqual([p.pause_id]);
    } finally {
      second.app.server.closeAllConnections();
      await second.close();
    }
  });

  it('an answer lost after the server created the approval: the retry, same Idempotency-Key, asks nothing new', async () => {
    const a = await ws.agent('lost-answer');
    const proxy = await startProxy(await listen(t));
    try {
      let dropped = 0;
      proxy.drop = (req) => {
        if (dropped > 0 || req.method !== 'POST' || req.url !== '/v1/pause' || req.status !== 201) return false;
        dropped++;
        return true;
      };
      const leash = new Leash({ baseUrl: proxy.url, apiKey: a.key });
      const asking = leash.ask({ message: 'Pay?', options: ['Pay', 'Wait'], recipient: 'cfo@acme.com' });
      const p = await onePending(t, ws, a.id);
      await respond(t, ws, p.pause_id, 'Pay');
      expect(await asking).toMatchObject({ id: p.pause_id, choice: 'Pay' });
      const creates = proxy.seen.filter((s) => s.method === 'POST' && s.url === '/v1/pause');
      expect(creates.length).toBe(2);
      expect(dropped).toBe(1);
      expect(creates[1]!.headers['idempotency-key']).toBe(creates[0]!.headers['idempotency-key']);
      expect((await allApprovals(t, ws, a.id)).length).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('a given idempotencyKey makes a second ask with it the same question, not a new one', async () => {
    const a = await ws.agent('same-key');
    const leash = new Leash({ baseUrl: await listen(t), apiKey: a.key });
    const q = { message: 'Q?', options: ['A', 'B'], recipient: 'x@acme.com', idempotencyKey: 'job-42' } as const;
    const one = leash.ask(q);
    const two = leash.ask(q);
    const p = await onePending(t, ws, a.id);
    await respond(t, ws, p.pause_id, 'B');
    expect([(await one).choice, (await two).choice]).toEqual(['B', 'B']);
    expect((await allApprovals(t, ws, a.id)).length).toBe(1);
  });
});
