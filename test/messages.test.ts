// Agent messaging through the sync path (send, read, long-poll, ack): refusals, gapless seq, the
// exact backlog cap under concurrency, and the full-pause hold with an ordered drain on unpause.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';

const t = useTestApp({ BACKLOG_CAP: '5' });

async function pair() {
  const ws = await t.workspace();
  const alice = await ws.agent('alice');
  const bob = await ws.agent('bob');
  return { ws, alice, bob };
}

const send = (key: string, to: string, body: unknown = { hello: 'world' }, headers?: Record<string, string>) =>
  t.call('POST', '/v1/messages', { key, body: { to, body }, headers });

async function stored(recipientId: string): Promise<number[]> {
  const rows = await t.deps.db
    .selectFrom('messages')
    .select('seq')
    .where('recipient_id', '=', recipientId)
    .orderBy('seq')
    .execute();
  return rows.map((r) => Number(r.seq));
}

describe('sending and reading', () => {
  it('a message is stored with seq 1, read in order with its sender, and acknowledged', async () => {
    const { ws, alice, bob } = await pair();
    const body = { task: 'reconcile', items: [1, 2, 3], note: 'ünïcode ✓' };
    const res = await send(alice.key, 'bob', body);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ to: bob.id, seq: 1 });
    await send(alice.key, bob.id, 'second, by id');

    const inbox = await t.call('GET', '/v1/messages', { key: bob.key });
    expect(inbox.body.data.map((m: any) => [m.seq, m.from, m.from_id])).toEqual([
      [1, 'alice', alice.id],
      [2, 'alice', alice.id],
    ]);
    expect(inbox.body.data[0].body).toEqual(body);
    const agent = await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey });
    expect(agent.body.backlog.undelivered).toBe(2);
    expect(agent.body.backlog.oldest_at).toBe(inbox.body.data[0].created_at);

    expect((await t.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: 1 } })).body).toEqual({
      acked_seq: 1,
    });
    const after = await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey });
    expect(after.body.backlog).toEqual({ undelivered: 1, oldest_at: inbox.body.data[1].created_at });
    // By default a read starts after the last ack.
    expect((await t.call('GET', '/v1/messages', { key: bob.key })).body.data.map((m: any) => m.seq)).toEqual([2]);
    expect((await t.call('GET', '/v1/messages?after=0', { key: bob.key })).body.data.map((m: any) => m.seq)).toEqual([
      1, 2,
    ]);
  });

  it('acks never go backwards nor past the last message', async () => {
    const { alice, bob } = await pair();
    await send(alice.key, 'bob');
    await send(alice.key, 'bob');
    expect((await t.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: 99 } })).body.acked_seq).toBe(2);
    expect((await t.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: 1 } })).body.acked_seq).toBe(2);
    const me = await t.call('GET', '/v1/agents/me', { key: bob.key });
    expect(me.body.backlog).toEqual({ undelivered: 0, oldest_at: null });
  });

  it('a long-poll returns as soon as a message arrives', async () => {
    const { alice, bob } = await pair();
    const started = Date.now();
    const waiting = t.call('GET', '/v1/messages?wait=10', { key: bob.key });
    await new Promise((r) => setTimeout(r, 100));
    await send(alice.key, 'bob', 'ping');
    const res = await waiting;
    expect(res.body.data.map((m: any) => m.body)).toEqual(['ping']);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('honours Idempotency-Key: a replay returns the same seq and stores one message', async () => {
    const { alice, bob } = await pair();
    const headers = { 'idempotency-key': 'msg-1' };
    const a = await send(alice.key, 'bob', { n: 1 }, headers);
    const b = await send(alice.key, 'bob', { n: 1 }, headers);
    expect(b.status).toBe(202);
    expect(b.body).toEqual(a.body);
    expect(await stored(bob.id)).toEqual([1]);
  });
});

describe('presence', () => {
  it('an agent that read its inbox in the last 60 s is online, in its object and in the directory (which never shows a pause)', async () => {
    const { ws, alice, bob } = await pair();
    expect((await t.call('GET', '/v1/directory/bob', { key: alice.key })).body.presence).toBe('offline');
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await t.call('GET', '/v1/messages', { key: bob.key });
    expect((await t.call('GET', '/v1/directory/bob', { key: alice.key })).body).toEqual({
      name: 'bob',
      display_name: null,
      presence: 'online',
    });
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.presence).toBe('online');
    // A minute of silence: offline again.
    await t.deps.db
      .updateTable('agents')
      .set({ last_seen_at: new Date(Date.now() - 61_000) })
      .where('id', '=', bob.id)
      .execute();
    expect((await t.call('GET', '/v1/directory/bob', { key: alice.key })).body.presence).toBe('offline');
  });
});

describe('refusals (a refused message is not stored)', () => {
  it('a paused sender (either mode) gets 403 AGENT_PAUSED_BY_OWNER, and can still receive', async () => {
    const { ws, alice, bob } = await pair();
    for (const mode of ['send', 'full']) {
      await t.call('POST', `/v1/agents/${alice.id}/pause`, { key: ws.ownerKey, body: { mode } });
      const res = await send(alice.key, 'bob');
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('AGENT_PAUSED_BY_OWNER');
    }
    expect(await stored(bob.id)).toEqual([]);
    await t.call('POST', `/v1/agents/${alice.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    expect((await send(bob.key, 'alice', 'you are soft-paused but may receive')).status).toBe(202);
    expect((await t.call('GET', '/v1/messages', { key: alice.key })).body.data).toHaveLength(1);
  });

  it('a stopped sender gets 403 AGENT_INACTIVE; a stopped or stopping recipient 409 RECIPIENT_INACTIVE', async () => {
    const { ws, alice, bob } = await pair();
    await t.call('POST', `/v1/agents/${alice.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    const fromStopped = await send(alice.key, 'bob');
    expect([fromStopped.status, fromStopped.body.error.code]).toEqual([403, 'AGENT_INACTIVE']);
    const toStopped = await send(bob.key, 'alice');
    expect([toStopped.status, toStopped.body.error.code]).toEqual([409, 'RECIPIENT_INACTIVE']);
    const carol = await ws.agent('carol', { delivery_url: 'http://127.0.0.1:9/x' });
    expect(
      (await t.call('POST', `/v1/agents/${carol.id}/stop`, { key: ws.ownerKey, body: { timeout: 50 } })).status,
    ).toBe(408);
    const toStopping = await send(bob.key, 'carol');
    expect([toStopping.status, toStopping.body.error.code]).toEqual([409, 'RECIPIENT_INACTIVE']);
    expect(await stored(alice.id)).toEqual([]);
    expect(await stored(carol.id)).toEqual([]);
  });

  it('a blocked sender gets 403 BLOCKED; unblocking lets it through', async () => {
    const { alice, bob } = await pair();
    expect((await t.call('POST', '/v1/blocks', { key: bob.key, body: { agent: 'alice' } })).status).toBe(201);
    expect((await t.call('GET', '/v1/blocks', { key: bob.key })).body.data.map((b: any) => b.agent)).toEqual(['alice']);
    const res = await send(alice.key, 'bob');
    expect([res.status, res.body.error.code]).toEqual([403, 'BLOCKED']);
    expect(await stored(bob.id)).toEqual([]);
    expect((await t.call('DELETE', '/v1/blocks/alice', { key: bob.key })).status).toBe(204);
    expect((await t.call('DELETE', '/v1/blocks/alice', { key: bob.key })).status).toBe(404);
    expect((await send(alice.key, 'bob')).status).toBe(202);
  });

  it('at BACKLOG_CAP undelivered messages senders get 429 RECIPIENT_BACKLOGGED; an ack makes room', async () => {
    const { alice, bob } = await pair();
    for (let i = 0; i < 5; i++) expect((await send(alice.key, 'bob', i)).status).toBe(202);
    const full = await send(alice.key, 'bob', 'one too many');
    expect([full.status, full.body.error.code]).toEqual([429, 'RECIPIENT_BACKLOGGED']);
    expect(await stored(bob.id)).toEqual([1, 2, 3, 4, 5]);
    await t.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: 2 } });
    expect((await send(alice.key, 'bob')).body.seq).toBe(6);
  });

  it('the cap holds exactly under 20 concurrent senders, and seq stays gapless', async () => {
    const { ws, bob } = await pair();
    const senders = await Promise.all(Array.from({ length: 20 }, (_, i) => ws.agent(`sender-${i}`)));
    const results = await Promise.all(senders.map((s, i) => send(s.key, 'bob', { from: i })));
    expect(results.filter((r) => r.status === 202)).toHaveLength(5);
    expect(results.filter((r) => r.status === 429)).toHaveLength(15);
    expect(await stored(bob.id)).toEqual([1, 2, 3, 4, 5]);
    expect(
      results
        .filter((r) => r.status === 202)
        .map((r) => r.body.seq)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it('concurrent sends share a statement: each gets its own answer, seq is gapless per inbox, the cap counts the batch', async () => {
    const { ws, alice, bob } = await pair();
    const carol = await ws.agent('carol');
    const mallory = await ws.agent('mallory');
    const pete = await ws.agent('pete');
    expect((await t.call('POST', '/v1/blocks', { key: bob.key, body: { agent: 'mallory' } })).status).toBe(201);
    await t.call('POST', `/v1/agents/${pete.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const plan: [string, string, number | string][] = [
      ...Array.from({ length: 4 }, (): [string, string, number] => [alice.key, 'bob', 202]),
      [mallory.key, 'bob', 'BLOCKED'],
      [pete.key, 'carol', 'AGENT_PAUSED_BY_OWNER'],
      [alice.key, 'carol', 202],
      [alice.key, 'nobody', 'not_found'],
      [alice.key, carol.id, 202],
      ...Array.from({ length: 3 }, (): [string, string, number] => [alice.key, 'bob', 0]),
      [alice.key, 'carol', 202],
    ];
    const results = await Promise.all(plan.map(([key, to], i) => send(key, to, { i })));
    const code = (r: (typeof results)[number]) => (r.status === 202 ? 202 : r.body.error.code);
    plan.forEach(([, , want], i) => {
      if (want !== 0) expect([i, code(results[i]!)]).toEqual([i, want]);
    });
    // Alice's seven to bob: five fit under the cap of 5, in arrival order, and two are refused.
    const toBob = results.filter((_, i) => plan[i]![0] === alice.key && plan[i]![1] === 'bob');
    expect(toBob.map(code)).toEqual([202, 202, 202, 202, 202, 'RECIPIENT_BACKLOGGED', 'RECIPIENT_BACKLOGGED']);
    expect(toBob.slice(0, 5).map((r) => r.body.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await stored(bob.id)).toEqual([1, 2, 3, 4, 5]);
    expect(await stored(carol.id)).toEqual([1, 2, 3]);
    const bodies = await t.deps.db
      .selectFrom('messages')
      .select(['seq', 'body'])
      .where('recipient_id', '=', carol.id)
      .orderBy('seq')
      .execute();
    expect(bodies.map((b) => b.body)).toEqual([{ i: 6 }, { i: 8 }, { i: 12 }]);
    // They did share: the eight stored came in fewer transactions than eight.
    const { rows } = await sql<{ n: string }>`select count(distinct xmin::text) as n from messages
      where recipient_id in (${bob.id}, ${carol.id})`.execute(t.deps.db);
    expect(Number(rows[0]!.n)).toBeLessThan(8);
    const agents = await t.deps.db
      .selectFrom('agents')
      .select(['id', 'inbox_seq'])
      .where('id', 'in', [bob.id, carol.id])
      .execute();
    expect(Object.fromEntries(agents.map((a) => [a.id, Number(a.inbox_seq)]))).toEqual({ [bob.id]: 5, [carol.id]: 3 });
  });

  it.each([
    [{ to: 'bob' }, 'body', 'is required'],
    [{ to: 'bob', body: 'x'.repeat(64 * 1024) }, 'body', 'must be at most 64 KiB'],
    [{ to: '', body: 1 }, 'to', 'must not be empty'],
    [{ to: 'bob', body: 1, urgent: true }, 'urgent', 'is not a known field'],
  ])('refuses bad input #%# with 400 naming the field, storing nothing', async (payload, field, message) => {
    const { alice, bob } = await pair();
    const res = await t.call('POST', '/v1/messages', { key: alice.key, body: payload });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain(`${field}: ${message}`);
    expect(await stored(bob.id)).toEqual([]);
  });

  it('an unknown or other-workspace recipient is 404; member keys may not send or read', async () => {
    const { ws, alice } = await pair();
    const other = await t.workspace();
    const stranger = await other.agent('stranger');
    expect((await send(alice.key, 'nobody')).status).toBe(404);
    expect((await send(alice.key, stranger.id)).status).toBe(404);
    expect((await send(alice.key, 'stranger')).status).toBe(404);
    expect((await t.call('POST', '/v1/messages', { key: ws.ownerKey, body: { to: 'alice', body: 1 } })).status).toBe(
      403,
    );
    expect((await t.call('GET', '/v1/messages', { key: ws.ownerKey })).status).toBe(403);
  });
});

describe('full pause: hold, then an ordered drain', () => {
  it('messages to a fully paused agent are accepted and stored but not delivered; unpause wakes a waiting reader', async () => {
    const { ws, alice, bob } = await pair();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    for (let i = 1; i <= 3; i++) expect((await send(alice.key, 'bob', i)).status).toBe(202);
    expect((await t.call('GET', '/v1/messages?after=0', { key: bob.key })).body.data).toEqual([]);
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.backlog.undelivered).toBe(3);

    const waiting = t.call('GET', '/v1/messages?wait=10', { key: bob.key });
    await new Promise((r) => setTimeout(r, 150));
    const unpausedAt = Date.now();
    await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey });
    const res = await waiting;
    expect(res.body.data.map((m: any) => m.body)).toEqual([1, 2, 3]);
    expect(Date.now() - unpausedAt).toBeLessThan(2_000);
  });

  it('a soft (send) pause does not hold inbound delivery', async () => {
    const { ws, alice, bob } = await pair();
    await t.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await send(alice.key, 'bob', 'hi');
    expect((await t.call('GET', '/v1/messages', { key: bob.key })).body.data).toHaveLength(1);
  });
});

describe('a large held backlog', () => {
  const big = useTestApp({ BACKLOG_CAP: '10000' });

  it('1,200 messages held under full pause drain in seq order, without gaps, after unpause', async () => {
    const ws = await big.workspace();
    const senders = await Promise.all(['s1', 's2', 's3', 's4'].map((n) => ws.agent(n)));
    const bob = await ws.agent('bob');
    await big.call('POST', `/v1/agents/${bob.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    let n = 0;
    await Promise.all(
      senders.map(async (s) => {
        for (let i = 0; i < 300; i++) {
          const res = await big.call('POST', '/v1/messages', { key: s.key, body: { to: 'bob', body: { n: n++ } } });
          expect(res.status).toBe(202);
        }
      }),
    );
    expect((await big.call('GET', '/v1/messages?after=0', { key: bob.key })).body.data).toEqual([]);
    await big.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey });
    const seqs: number[] = [];
    for (;;) {
      const page = await big.call('GET', '/v1/messages?limit=500', { key: bob.key });
      if (page.body.data.length === 0) break;
      seqs.push(...page.body.data.map((m: any) => m.seq));
      await big.call('POST', '/v1/messages/ack', { key: bob.key, body: { seq: seqs.at(-1) } });
    }
    expect(seqs).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
    expect((await big.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.backlog).toEqual({
      undelivered: 0,
      oldest_at: null,
    });
  });
});
