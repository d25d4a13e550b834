// The WebSocket stream over real loopback sockets: seq order, the ack window, drain from the last
// ack on reconnect, the full-pause hold, control events, stop, presence, and fan-out from another
// web process (a second server with its own Postgres listener on the same database).
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeps, buildWeb, closeDeps, type Deps } from '../src/app.js';
import { STREAM_WINDOW } from '../src/messages/live-stream.js';
import { useTestApp } from './support/app.js';
import { StreamClient } from './support/stream-client.js';

const t = useTestApp();
let base = '';
const clients: StreamClient[] = [];

beforeAll(async () => {
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

async function connect(key: string | undefined, opts: { autoAck?: boolean } = {}): Promise<StreamClient> {
  const c = await StreamClient.open(base, key, opts);
  clients.push(c);
  return c;
}

async function pair() {
  const ws = await t.workspace();
  const alice = await ws.agent('alice');
  const bob = await ws.agent('bob');
  return { ws, alice, bob };
}

const send = (key: string, to: string, body: unknown) => t.call('POST', '/v1/messages', { key, body: { to, body } });

/** Sends n messages in order (sequentially: seq order is send order). */
async function sendMany(key: string, to: string, n: number, from = 1): Promise<void> {
  for (let i = from; i < from + n; i++) {
    const res = await send(key, to, i);
    if (res.status !== 202) throw new Error(`send ${i}: ${JSON.stringify(res.body)}`);
  }
}

async function bulkInsert(recipientId: string, senderId: string, workspaceId: string, n: number): Promise<void> {
  // Straight into the tables (the API path is covered elsewhere): n held messages, fast.
  const { sql } = await import('kysely');
  await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
            select gen_random_uuid(), ${workspaceId}, ${recipientId}, ${senderId}, s, to_json(s)
            from generate_series(1, ${n}) s`.execute(t.deps.db);
  await t.deps.db
    .updateTable('agents')
    .set({ inbox_seq: n, backlog_since: new Date() })
    .where('id', '=', recipientId)
    .execute();
}

const ackedSeq = async (agentId: string) =>
  Number(
    (await t.deps.db.selectFrom('agents').select('acked_seq').where('id', '=', agentId).executeTakeFirstOrThrow())
      .acked_seq,
  );

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('connecting', () => {
  it('refuses a missing or bad key (401), a member key (403) and a stopped agent (403 AGENT_INACTIVE) before the upgrade', async () => {
    const { ws, bob } = await pair();
    await expect(StreamClient.open(base, undefined)).rejects.toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
    await expect(StreamClient.open(base, 'lsh_a_nope')).rejects.toMatchObject({ status: 401 });
    await expect(StreamClient.open(base, ws.ownerKey)).rejects.toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    await t.call('POST', `/v1/agents/${bob.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    await expect(StreamClient.open(base, bob.key)).rejects.toMatchObject({
      status: 403,
      body: { error: { code: 'AGENT_INACTIVE' } },
    });
    expect(await t.deps.db.selectFrom('agent_streams').select('id').where('agent_id', '=', bob.id).execute()).toEqual(
      [],
    );
  });

  it('says ready with the agent as it is (pause included) and the last acked seq', async () => {
    const { ws, bob } = await pair();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send', reason: 'audit' } });
    const c = await connect(bob.key);
    const ready = c.frames[0]!;
    expect(ready).toMatchObject({
      type: 'ready',
      acked_seq: 0,
      window: STREAM_WINDOW,
      agent: { id: bob.id, status: 'paused', pause: { mode: 'send', reason: 'audit' } },
    });
  });
});

describe('delivery', () => {
  it('pushes messages live in seq order; acks are recorded; a reconnect drains from the last ack', async () => {
    const { alice, bob } = await pair();
    const c = await connect(bob.key);
    await sendMany(alice.key, 'bob', 5);
    await c.until((x) => x.seqs().length === 5);
    expect(c.messages().map((m) => [m.seq, m.from, m.body])).toEqual(range(1, 5).map((i) => [i, 'alice', i]));
    c.send({ type: 'ack', seq: 3 });
    await expect.poll(() => ackedSeq(bob.id)).toBe(3);
    await c.close();

    const again = await connect(bob.key);
    expect(again.frames[0]).toMatchObject({ type: 'ready', acked_seq: 3 });
    await again.until((x) => x.seqs().length === 2);
    expect(again.seqs()).toEqual([4, 5]);
  });

  it('opening while messages arrive: ready comes first and nothing already acknowledged is pushed again', async () => {
    const { ws, alice, bob } = await pair();
    await bulkInsert(bob.id, alice.id, ws.id, 300);
    await t.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: 300 } });
    let sending = true;
    const flood = (async () => {
      while (sending) await send(alice.key, 'bob', 'live');
    })();
    const streams = await Promise.all(Array.from({ length: 5 }, () => connect(bob.key)));
    sending = false;
    await flood;
    await new Promise((r) => setTimeout(r, 300));
    for (const c of streams) {
      expect(c.frames[0]!.type).toBe('ready');
      expect(c.seqs().every((seq) => seq > 300)).toBe(true);
      expect(c.seqs()).toEqual(range(301, 300 + c.seqs().length));
    }
  });

  it(`holds at ${STREAM_WINDOW} unacknowledged messages; acks open the window`, async () => {
    const { ws, alice, bob } = await pair();
    await bulkInsert(bob.id, alice.id, ws.id, STREAM_WINDOW + 200);
    const c = await connect(bob.key);
    await c.until((x) => x.seqs().length === STREAM_WINDOW);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.seqs()).toEqual(range(1, STREAM_WINDOW));
    c.send({ type: 'ack', seq: 150 });
    await c.until((x) => x.seqs().length === STREAM_WINDOW + 150);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.seqs()).toEqual(range(1, STREAM_WINDOW + 150));
  });

  it('answers malformed frames with an error frame and changes nothing', async () => {
    const { alice, bob } = await pair();
    const c = await connect(bob.key);
    await sendMany(alice.key, 'bob', 2);
    await c.until((x) => x.seqs().length === 2);
    for (const bad of [
      'not json',
      '{"type":"nack","seq":1}',
      '{"type":"ack","seq":-1}',
      '{"type":"ack","seq":1.5}',
      '{"type":"ack"}',
      '{"type":"ack","seq":3}',
    ])
      c.send(bad);
    await c.until((x) => x.frames.filter((f) => f.type === 'error').length === 6);
    const errors = c.frames.filter((f) => f.type === 'error').map((f) => f.error.message);
    expect(errors).toEqual([
      'frames are JSON, e.g. {"type": "ack", "seq": 12}',
      'type must be "ack" or "ping"',
      'seq must be a non-negative integer',
      'seq must be a non-negative integer',
      'seq must be a non-negative integer',
      'ack seq 3 is past the last message sent on this stream (2)',
    ]);
    expect(await ackedSeq(bob.id)).toBe(0);
    c.send({ type: 'ping' });
    await c.until((x) => x.frames.some((f) => f.type === 'pong'));
    expect(c.closed).toBeUndefined();
  });

  it('delivers a message sent through another web process (fan-out through Postgres NOTIFY)', async () => {
    const { alice, bob } = await pair();
    const c = await connect(bob.key);
    const other: Deps = buildDeps(t.config);
    const otherApp: FastifyInstance = await buildWeb(other);
    try {
      const res = await otherApp.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { authorization: `Bearer ${alice.key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ to: 'bob', body: 'via B' }),
      });
      expect(res.statusCode).toBe(202);
      await c.until((x) => x.seqs().length === 1);
      expect(c.messages()[0].body).toBe('via B');
    } finally {
      await otherApp.close();
      await closeDeps(other);
    }
  });
});

describe('shutdown', () => {
  it('a server shutting down closes its streams with 1001 (reconnect), and their rows go', async () => {
    const { bob } = await pair();
    const other: Deps = buildDeps(t.config);
    const otherApp = await buildWeb(other);
    const otherBase = await otherApp.listen({ host: '127.0.0.1', port: 0 });
    const c = await StreamClient.open(otherBase, bob.key);
    await otherApp.close();
    await closeDeps(other);
    await c.until((x) => x.closed !== undefined);
    expect(c.closed).toEqual({ code: 1001, reason: 'Leash is restarting; reconnect' });
    await expect
      .poll(
        async () =>
          (await t.deps.db.selectFrom('agent_streams').select('id').where('agent_id', '=', bob.id).execute()).length,
      )
      .toBe(0);
  });
});

describe('memory', () => {
  it('an open stream does not hold on to its upgrade request (headers, Fastify request and reply): 10,000 idle streams must fit in 300 MB', async () => {
    const { bob } = await pair();
    const other: Deps = buildDeps(t.config);
    const otherApp = await buildWeb(other);
    const upgrades: WeakRef<object>[] = [];
    otherApp.addHook('onRequest', async (req) => {
      if (req.url === '/v1/stream') upgrades.push(new WeakRef(req), new WeakRef(req.raw));
    });
    const otherBase = await otherApp.listen({ host: '127.0.0.1', port: 0 });
    try {
      const c = await StreamClient.open(otherBase, bob.key);
      await c.until((x) => x.frames.some((f) => f.type === 'ready'));
      expect(upgrades).toHaveLength(2);
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      await expect
        .poll(() => (gc(), upgrades.filter((r) => r.deref() !== undefined).length), { timeout: 5_000 })
        .toBe(0);
      // Still open and working.
      c.send({ type: 'ping' });
      await c.until((x) => x.frames.some((f) => f.type === 'pong'));
      expect(c.closed).toBeUndefined();
      await c.close();
    } finally {
      await otherApp.close();
      await closeDeps(other);
    }
  });
});

describe('full pause', () => {
  it('no pushes while fully paused, a reconnect drains nothing, sends are still accepted; unpause drains 1,200 held in order, then live', async () => {
    const { ws, alice, bob } = await pair();
    const c = await connect(bob.key, { autoAck: true });
    await sendMany(alice.key, 'bob', 3);
    await c.until((x) => x.seqs().length === 3);
    expect(
      (await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } })).status,
    ).toBe(200);
    await c.until((x) => x.controls().includes('paused'));
    await sendMany(alice.key, 'bob', 20, 4);
    // Held ones plus a bulk of 1,180 more (straight into the inbox, as if sent).
    const { sql } = await import('kysely');
    await sql`insert into messages (id, workspace_id, recipient_id, sender_id, seq, body)
              select gen_random_uuid(), ${ws.id}, ${bob.id}, ${alice.id}, s, to_json(s) from generate_series(24, 1203) s`.execute(
      t.deps.db,
    );
    await t.deps.db.updateTable('agents').set({ inbox_seq: 1203 }).where('id', '=', bob.id).execute();
    await new Promise((r) => setTimeout(r, 300));
    expect(c.seqs()).toEqual([1, 2, 3]);

    await c.close();
    const reconnected = await connect(bob.key);
    await new Promise((r) => setTimeout(r, 300));
    expect(reconnected.seqs()).toEqual([]);
    expect(reconnected.frames[0]).toMatchObject({ agent: { status: 'paused', backlog: { undelivered: 1200 } } });
    reconnected.autoAck();

    expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
    await reconnected.until((x) => x.seqs().length === 1200, 20_000);
    expect(reconnected.seqs()).toEqual(range(4, 1203));
    await sendMany(alice.key, 'bob', 1, 1204);
    await reconnected.until((x) => x.seqs().length === 1201);
    expect(reconnected.seqs().at(-1)).toBe(1204);
    await expect.poll(() => ackedSeq(bob.id)).toBe(1204);
  });

  it('nothing is pushed after the pause commits, while senders keep sending', async () => {
    const { ws, alice, bob } = await pair();
    const c = await connect(bob.key, { autoAck: true });
    let sending = true;
    const flood = (async () => {
      for (let i = 1; sending; i++) await send(alice.key, 'bob', i);
    })();
    await c.until((x) => x.seqs().length >= 20);
    expect(
      (await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } })).status,
    ).toBe(200);
    // Frames written before the commit may still be on the wire; after that, nothing.
    await new Promise((r) => setTimeout(r, 200));
    const atPause = c.seqs().length;
    await new Promise((r) => setTimeout(r, 500));
    sending = false;
    await flood;
    expect(c.seqs().length).toBe(atPause);
    expect(c.seqs()).toEqual(range(1, atPause));
    const { inbox_seq } = await t.deps.db
      .selectFrom('agents')
      .select('inbox_seq')
      .where('id', '=', bob.id)
      .executeTakeFirstOrThrow();
    expect(Number(inbox_seq)).toBeGreaterThan(atPause);
  });

  it('switching a full pause to a soft one releases the held messages at once', async () => {
    const { ws, alice, bob } = await pair();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    const c = await connect(bob.key);
    await sendMany(alice.key, 'bob', 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.seqs()).toEqual([]);
    expect(
      (await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } })).status,
    ).toBe(200);
    await c.until((x) => x.seqs().length === 3, 3_000);
    expect(c.seqs()).toEqual([1, 2, 3]);
  });

  it('a soft pause does not hold inbound delivery', async () => {
    const { ws, alice, bob } = await pair();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const c = await connect(bob.key);
    await sendMany(alice.key, 'bob', 2);
    await c.until((x) => x.seqs().length === 2);
  });
});

describe('control events and stop', () => {
  it('carries the agent’s events: paused, unpaused, session_paused, session_resumed', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    const session = await t.call('POST', '/v1/sessions', { key: bob.key, body: { task: 'reconcile' } });
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full', reason: 'audit' } });
    await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey });
    await t.call('POST', `/v1/sessions/${session.body.id}/pause`, { key: ws.ownerKey });
    await t.call('POST', `/v1/sessions/${session.body.id}/resume`, { key: ws.ownerKey });
    await c.until((x) => x.controls().length >= 4);
    expect(c.controls()).toEqual(['paused', 'unpaused', 'session_paused', 'session_resumed']);
    const paused = c.frames.find((f) => f.event === 'paused')!;
    expect(paused.data).toMatchObject({ id: bob.id, pause: { mode: 'full', reason: 'audit' } });
    expect(typeof paused.id).toBe('string');
  });

  it('carries the outcome of its approvals: an answer and a cancel arrive as the API shows the approval', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    const ask = {
      recipient: 'alice@example.com',
      channel: 'web',
      message: 'Wire $340?',
      options: ['Approve', 'Reject'],
    };
    const first = await t.call('POST', '/v1/pause', { key: bob.key, body: ask });
    const second = await t.call('POST', '/v1/pause', { key: bob.key, body: ask });
    const answered = await t.call('POST', `/v1/pause/${first.body.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Reject' },
    });
    const cancelled = await t.call('POST', `/v1/pause/${second.body.pause_id}/cancel`, { key: bob.key });
    await c.until((x) => x.controls().length >= 2);
    expect(c.controls()).toEqual(['pause_request_responded', 'pause_request_cancelled']);
    expect(c.frames.find((f) => f.event === 'pause_request_responded')!.data).toEqual(answered.body);
    expect(c.frames.find((f) => f.event === 'pause_request_cancelled')!.data).toEqual(cancelled.body);
  });

  /** An outbox event for bob committed now with an id `ageMs` old, as a transaction that took its id
   *  that long before committing would; woken with its id, or with none (as after a reconnect). */
  async function lateEvent(
    ws: { id: string },
    agentId: string,
    ageMs: number,
    type: string,
    data: unknown,
    wake: 'id' | 'none' | 'skip',
  ) {
    const { sql } = await import('kysely');
    const hex = (Date.now() - ageMs).toString(16).padStart(12, '0');
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-${randomBytes(6).toString('hex')}`;
    await sql`insert into outbox (id, workspace_id, agent_id, type, payload)
              values (${id}, ${ws.id}, ${agentId}, ${type}, ${JSON.stringify({ type, timestamp: new Date().toISOString(), data })}::json)`.execute(
      t.deps.db,
    );
    if (wake !== 'skip')
      await sql`select pg_notify('leash', ${wake === 'id' ? `agent:${agentId} ${id}` : `agent:${agentId}`})`.execute(
        t.deps.db,
      );
  }

  it('a wake-up names its event, which is read however far out of id order it committed, and sent once', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    await new Promise((r) => setTimeout(r, 2_000)); // the late event's id must be newer than the stream
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await c.until((x) => x.controls().includes('paused'));
    await lateEvent(ws, bob.id, 1_500, 'session.paused', { late: true }, 'id');
    await c.until((x) => x.controls().includes('session_paused'));
    expect(c.frames.find((f) => f.event === 'session_paused')!.data).toEqual({ late: true });
    await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey });
    await c.until((x) => x.controls().includes('unpaused'));
    expect(c.controls()).toEqual(['paused', 'session_paused', 'unpaused']);
  });

  it('only agent.*, session.* and pause_request.* events become control frames, even when a wake-up names another', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    await lateEvent(ws, bob.id, 0, 'agentless.internal', { internal: true }, 'id');
    await lateEvent(ws, bob.id, 0, 'approval.requested', { internal: true }, 'id');
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await c.until((x) => x.controls().includes('paused'));
    await new Promise((r) => setTimeout(r, 200));
    expect(c.controls()).toEqual(['paused']);
  });

  it('a wake-up that names no event (the notifier reconnected, wake-ups were lost) reads the last 10 s in full; nothing is sent twice', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    await new Promise((r) => setTimeout(r, 1_000));
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await c.until((x) => x.controls().includes('paused'));
    // One committed with no wake-up at all, then one with the reconnect's wake-up for every listener.
    await lateEvent(ws, bob.id, 0, 'session.resumed', { missed: true }, 'skip');
    await lateEvent(ws, bob.id, 500, 'session.paused', { late: true }, 'none');
    await c.until((x) => x.controls().length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    expect([...c.controls()].sort()).toEqual(['paused', 'session_paused', 'session_resumed']);
  });

  it('an open stream is a live connection: graceful stop sends stop_requested and waits; the confirmation stops it and closes the stream', async () => {
    const { ws, bob } = await pair();
    const c = await connect(bob.key);
    const stopping = t.call('POST', `/v1/agents/${bob.id}/stop`, { key: ws.ownerKey, body: { timeout: 10_000 } });
    await c.until((x) => x.controls().includes('stop_requested'));
    expect((await t.call('GET', '/v1/agents/me', { key: bob.key })).body.status).toBe('stopping');
    expect((await t.call('POST', '/v1/agents/me/stopped', { key: bob.key })).status).toBe(200);
    const res = await stopping;
    expect([res.status, res.body.status]).toEqual([200, 'inactive']);
    await c.until((x) => x.closed !== undefined);
    expect(c.controls()).toEqual(['stop_requested', 'stopped']);
    expect(c.closed).toEqual({ code: 4000, reason: 'agent stopped' });
    await expect
      .poll(
        async () =>
          (await t.deps.db.selectFrom('agent_streams').select('id').where('agent_id', '=', bob.id).execute()).length,
      )
      .toBe(0);
  });

  it('a force stop closes the stream; once it is closed a graceful stop no longer waits', async () => {
    const { ws, alice, bob } = await pair();
    const c = await connect(bob.key);
    await t.call('POST', `/v1/agents/${bob.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    await c.until((x) => x.closed !== undefined);
    expect(c.closed!.code).toBe(4000);

    const d = await connect(alice.key);
    await d.close();
    await expect
      .poll(
        async () =>
          (await t.deps.db.selectFrom('agent_streams').select('id').where('agent_id', '=', alice.id).execute()).length,
      )
      .toBe(0);
    const res = await t.call('POST', `/v1/agents/${alice.id}/stop`, { key: ws.ownerKey, body: { timeout: 10_000 } });
    expect([res.status, res.body.status]).toEqual([200, 'inactive']);
  });
});

describe('presence', () => {
  it('an agent with an open stream is online in its object and the directory', async () => {
    const { ws, alice, bob } = await pair();
    expect((await t.call('GET', '/v1/directory/bob', { key: alice.key })).body.presence).toBe('offline');
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await connect(bob.key);
    expect((await t.call('GET', '/v1/directory/bob', { key: alice.key })).body).toEqual({
      name: 'bob',
      display_name: null,
      presence: 'online',
    });
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.presence).toBe('online');
  });
});
