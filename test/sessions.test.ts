// /v1/sessions: agents open sessions; the owner (or the agent itself) pauses, resumes and cancels
// them; only the agent completes them. Real Postgres, one database for this file, nothing mocked.
import { describe, expect, it } from 'vitest';
import { timelineCount, useTestApp } from './support/app.js';

const t = useTestApp();

const SESSION_KEYS = [
  'agent_id',
  'created_at',
  'finished_at',
  'id',
  'metadata',
  'paused_at',
  'status',
  'task',
  'updated_at',
];

async function setup(name = 'worker') {
  const ws = await t.workspace();
  const a = await ws.agent(name);
  return { ws, a };
}

async function open(key: string, body: Record<string, unknown> = {}) {
  const res = await t.call('POST', '/v1/sessions', { key, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const control = (id: string, verb: string, key: string) =>
  t.call('POST', `/v1/sessions/${id}/${verb}`, { key, body: {} });

/** Straight from the tables, not through the API under test. */
async function statusOf(id: string) {
  return (await t.deps.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirstOrThrow())
    .status;
}
async function sessionCount(workspaceId: string) {
  return (await t.deps.db.selectFrom('sessions').select('id').where('workspace_id', '=', workspaceId).execute()).length;
}
async function outbox(agentId: string) {
  return t.deps.db
    .selectFrom('outbox')
    .select(['type', 'payload'])
    .where('agent_id', '=', agentId)
    .orderBy('id')
    .execute();
}

describe('opening a session', () => {
  it('an agent key opens a running session and its metadata round-trips unchanged', async () => {
    const { ws, a } = await setup();
    const metadata = {
      customer: { name: 'Zoë 山田', tags: ['α', '🚀', ''], nested: { deep: [1, 2.5, -3, null, true, { x: 'ünï' }] } },
      'clé 🔑': 'naïve café',
      empty: {},
    };
    const s = await open(a.key, { task: 'Reconcile invoices — Q3', metadata });
    expect(Object.keys(s).sort()).toEqual(SESSION_KEYS);
    expect(s).toMatchObject({
      agent_id: a.id,
      task: 'Reconcile invoices — Q3',
      status: 'running',
      paused_at: null,
      finished_at: null,
    });
    expect(s.metadata).toEqual(metadata);
    expect(Date.parse(s.created_at)).toBeGreaterThan(Date.now() - 10_000);
    expect(s.updated_at).toBe(s.created_at);
    expect((await t.call('GET', `/v1/sessions/${s.id}`, { key: ws.ownerKey })).body).toEqual(s);
    const bare = await open(a.key);
    expect(bare).toMatchObject({ task: null, metadata: null, status: 'running' });
    const edge = await open(a.key, { task: 'x'.repeat(2000), metadata: { blob: 'y'.repeat(16_000) } });
    expect(edge.task).toHaveLength(2000);
  });

  it('member keys get 403 and nothing is created', async () => {
    const { ws } = await setup();
    const viewer = await ws.member('viewer');
    for (const key of [ws.ownerKey, viewer.key]) {
      const res = await t.call('POST', '/v1/sessions', { key, body: { task: 'nope' } });
      expect([res.status, res.body.error.code]).toEqual([403, 'forbidden']);
    }
    expect(await sessionCount(ws.id)).toBe(0);
  });

  it.each([
    ['task over 2000 chars', { task: 'x'.repeat(2001) }, 'task'],
    ['metadata as an array', { metadata: [1, 2] }, 'metadata'],
    ['metadata as a string', { metadata: 'flat' }, 'metadata'],
    ['metadata over 16 KiB', { metadata: { blob: 'é'.repeat(8200) } }, 'metadata'],
    ['an unknown field', { task: 'ok', tsk: 'typo' }, 'tsk'],
  ])('refuses %s with 400 naming the field; nothing is created', async (_, body, field) => {
    const { ws, a } = await setup();
    const res = await t.call('POST', '/v1/sessions', { key: a.key, body });
    expect([res.status, res.body.error.code]).toEqual([400, 'invalid_request']);
    expect(res.body.error.fields.map((f: any) => f.field)).toEqual([field]);
    expect(res.body.error.message).toMatch(new RegExp(`^${field}: `));
    expect(await sessionCount(ws.id)).toBe(0);
  });

  // Postgres stores NUL in neither text nor jsonb: it must be a 400 naming the field, never a 500.
  it.each([
    ['task', { task: 'a\u0000b' }],
    ['metadata.note', { metadata: { note: 'a\u0000b' } }],
  ])('refuses a NUL character in %s with 400 naming the field, not a 500', async (field, body) => {
    const { ws, a } = await setup();
    const res = await t.call('POST', '/v1/sessions', { key: a.key, body });
    expect([res.status, res.body.error?.fields?.[0]?.field]).toEqual([400, field]);
    expect(await sessionCount(ws.id)).toBe(0);
  });

  it('a stopped agent gets 403 AGENT_INACTIVE; a paused agent can still open sessions', async () => {
    const { ws, a } = await setup('stopped');
    expect(
      (await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } })).body.status,
    ).toBe('inactive');
    const res = await t.call('POST', '/v1/sessions', { key: a.key, body: { task: 'after stop' } });
    expect([res.status, res.body.error.code]).toEqual([403, 'AGENT_INACTIVE']);
    expect(await sessionCount(ws.id)).toBe(0);

    const b = await ws.agent('paused');
    await t.call('POST', `/v1/agents/${b.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    const s = await open(b.key, { task: 'while paused' });
    expect(s).toMatchObject({ agent_id: b.id, status: 'running' });
  });

  it('an Idempotency-Key replay returns the same session and creates one row; another body is 409', async () => {
    const { ws, a } = await setup();
    const headers = { 'idempotency-key': 'open-once-1' };
    const body = { task: 'once', metadata: { n: 1 } };
    const first = await t.call('POST', '/v1/sessions', { key: a.key, body, headers });
    const replay = await t.call('POST', '/v1/sessions', { key: a.key, body, headers });
    expect([first.status, replay.status]).toEqual([201, 201]);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const other = await t.call('POST', '/v1/sessions', { key: a.key, body: { task: 'twice' }, headers });
    expect([other.status, other.body.error.code]).toEqual([409, 'idempotency_key_reused']);
    expect(await sessionCount(ws.id)).toBe(1);
  });
});

describe('state machine', () => {
  it('running ⇄ paused → cancelled, with 409s for repeats and for anything after the end', async () => {
    const { ws, a } = await setup();
    const s = await open(a.key);
    const paused = await control(s.id, 'pause', ws.ownerKey);
    expect(paused.body).toMatchObject({ id: s.id, status: 'paused', finished_at: null });
    expect(Date.parse(paused.body.paused_at)).toBeGreaterThanOrEqual(Date.parse(s.created_at));
    const again = await control(s.id, 'pause', ws.ownerKey);
    expect([again.status, again.body.error.code]).toEqual([409, 'already_paused']);

    const resumed = await control(s.id, 'resume', ws.ownerKey);
    expect(resumed.body).toMatchObject({ status: 'running', paused_at: null });
    const notPaused = await control(s.id, 'resume', ws.ownerKey);
    expect([notPaused.status, notPaused.body.error.code]).toEqual([409, 'not_paused']);

    const cancelled = await control(s.id, 'cancel', ws.ownerKey);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'cancelled']);
    expect(Date.parse(cancelled.body.finished_at)).toBeGreaterThanOrEqual(Date.parse(paused.body.paused_at));

    const before = await timelineCount(t, a.id);
    for (const [verb, key] of [
      ['pause', ws.ownerKey],
      ['resume', ws.ownerKey],
      ['cancel', ws.ownerKey],
      ['complete', a.key],
    ] as const) {
      const res = await control(s.id, verb, key);
      expect([res.status, res.body.error?.code], verb).toEqual([409, 'already_finished']);
    }
    expect((await t.call('GET', `/v1/sessions/${s.id}`, { key: ws.ownerKey })).body).toEqual(cancelled.body);
    expect(await timelineCount(t, a.id)).toBe(before);
  });

  it('complete is the agent’s alone (members get 403) and works from running or paused', async () => {
    const { ws, a } = await setup();
    const s1 = await open(a.key);
    const s2 = await open(a.key);
    expect((await control(s1.id, 'complete', ws.ownerKey)).status).toBe(403);
    expect(await statusOf(s1.id)).toBe('running');

    const done = await control(s1.id, 'complete', a.key);
    expect([done.status, done.body.status]).toEqual([200, 'completed']);
    expect(Date.parse(done.body.finished_at)).toBeGreaterThanOrEqual(Date.parse(s1.created_at));
    await control(s2.id, 'pause', a.key);
    const fromPaused = await control(s2.id, 'complete', a.key);
    expect(fromPaused.body).toMatchObject({ status: 'completed', paused_at: null });
    const cancel = await control(s1.id, 'cancel', ws.ownerKey);
    expect([cancel.status, cancel.body.error.code]).toEqual([409, 'already_finished']);
  });
});

describe('who may control a session', () => {
  it('owner members and the agent itself may pause, resume and cancel', async () => {
    const { ws, a } = await setup();
    const owner2 = await ws.member('owner');
    const s = await open(a.key);
    expect((await control(s.id, 'pause', a.key)).body.status).toBe('paused');
    expect((await control(s.id, 'resume', owner2.key)).body.status).toBe('running');
    expect((await control(s.id, 'pause', ws.ownerKey)).body.status).toBe('paused');
    expect((await control(s.id, 'resume', a.key)).body.status).toBe('running');
    expect((await control(s.id, 'cancel', a.key)).body.status).toBe('cancelled');
  });

  it('approver and viewer members get 403 and nothing changes', async () => {
    const { ws, a } = await setup();
    const approver = await ws.member('approver');
    const viewer = await ws.member('viewer');
    const running = await open(a.key);
    const paused = await open(a.key);
    await control(paused.id, 'pause', a.key);
    const before = await timelineCount(t, a.id);
    for (const key of [approver.key, viewer.key]) {
      for (const verb of ['pause', 'resume', 'cancel', 'complete']) {
        for (const s of [running, paused]) {
          const res = await control(s.id, verb, key);
          expect([res.status, res.body.error.code], `${verb}`).toEqual([403, 'forbidden']);
        }
      }
    }
    expect(await statusOf(running.id)).toBe('running');
    expect(await statusOf(paused.id)).toBe('paused');
    expect(await timelineCount(t, a.id)).toBe(before);
    expect((await outbox(a.id)).map((r) => r.type)).toEqual(['session.paused']);
  });

  it('another agent in the same workspace gets 404 on the session, for reads and every control', async () => {
    const { ws, a } = await setup('owner-agent');
    const other = await ws.agent('nosy');
    const s = await open(a.key);
    const before = await timelineCount(t, a.id);
    expect((await t.call('GET', `/v1/sessions/${s.id}`, { key: other.key })).status).toBe(404);
    for (const verb of ['pause', 'resume', 'cancel', 'complete']) {
      const res = await control(s.id, verb, other.key);
      expect([res.status, res.body.error.code], verb).toEqual([404, 'not_found']);
    }
    expect(await statusOf(s.id)).toBe('running');
    expect(await timelineCount(t, a.id)).toBe(before);
    expect(await timelineCount(t, other.id)).toBe(1); // agent.created only
    expect(await outbox(a.id)).toEqual([]);
  });

  it('another workspace’s owner and agents get 404 and nothing changes', async () => {
    const { a } = await setup();
    const s = await open(a.key);
    const stranger = await t.workspace('Elsewhere');
    const strangerAgent = await stranger.agent('worker');
    const before = await timelineCount(t, a.id);
    for (const key of [stranger.ownerKey, strangerAgent.key]) {
      expect((await t.call('GET', `/v1/sessions/${s.id}`, { key })).status).toBe(404);
      for (const verb of ['pause', 'resume', 'cancel']) expect((await control(s.id, verb, key)).status, verb).toBe(404);
      const list = await t.call('GET', '/v1/sessions', { key });
      expect(list.body.data).toEqual([]);
    }
    expect((await t.call('GET', `/v1/sessions?agent_id=${a.id}`, { key: stranger.ownerKey })).status).toBe(404);
    expect(await statusOf(s.id)).toBe('running');
    expect(await timelineCount(t, a.id)).toBe(before);
  });
});

describe('reading sessions', () => {
  it('any member role reads a session', async () => {
    const { ws, a } = await setup();
    const s = await open(a.key, { task: 'visible' });
    for (const role of ['owner', 'approver', 'viewer'] as const) {
      const m = await ws.member(role);
      const res = await t.call('GET', `/v1/sessions/${s.id}`, { key: m.key });
      expect(res.status, role).toBe(200);
      expect(res.body).toEqual(s);
    }
  });

  it('an agent lists only its own sessions; members list the workspace’s, newest first', async () => {
    const { ws, a } = await setup('alpha');
    const b = await ws.agent('beta');
    const a1 = await open(a.key);
    const b1 = await open(b.key);
    const a2 = await open(a.key);
    const mine = await t.call('GET', '/v1/sessions', { key: a.key });
    expect(mine.body.data.map((s: any) => s.id)).toEqual([a2.id, a1.id]);
    const peek = await t.call('GET', `/v1/sessions?agent_id=${b.id}`, { key: a.key });
    expect(peek.body.data).toEqual([]);
    const all = await t.call('GET', '/v1/sessions', { key: ws.ownerKey });
    expect(all.body.data.map((s: any) => s.id)).toEqual([a2.id, b1.id, a1.id]);
    expect(all.body.next_cursor).toBeNull();
  });

  it('filters by agent_id (id or name) and by status', async () => {
    const { ws, a } = await setup('alpha');
    const b = await ws.agent('beta');
    const a1 = await open(a.key);
    const a2 = await open(a.key);
    const b1 = await open(b.key);
    await control(a1.id, 'pause', ws.ownerKey);
    await control(b1.id, 'cancel', ws.ownerKey);
    const ids = async (query: string, key = ws.ownerKey) =>
      (await t.call('GET', `/v1/sessions?${query}`, { key })).body.data.map((s: any) => s.id);
    expect(await ids(`agent_id=${a.id}`)).toEqual([a2.id, a1.id]);
    expect(await ids('agent_id=beta')).toEqual([b1.id]);
    expect(await ids('status=paused')).toEqual([a1.id]);
    expect(await ids('status=running')).toEqual([a2.id]);
    expect(await ids('status=cancelled&agent_id=alpha')).toEqual([]);
    expect(await ids('status=running', a.key)).toEqual([a2.id]);
  });

  it('limit and cursor visit every session exactly once, newest first', async () => {
    const { ws, a } = await setup();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await open(a.key, { task: `t${i}` })).id);
    const [seen, sizes]: [string[], number[]] = [[], []];
    let cursor: string | null = null;
    do {
      const res: any = await t.call('GET', `/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        key: ws.ownerKey,
      });
      sizes.push(res.body.data.length);
      seen.push(...res.body.data.map((s: any) => s.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(created.reverse());
  });

  it('bad filters, cursors and ids are 400 naming the field; unknown ids are 404', async () => {
    const { ws } = await setup();
    const field = async (method: string, url: string) => {
      const res = await t.call(method, url, { key: ws.ownerKey, ...(method === 'POST' ? { body: {} } : {}) });
      expect(res.status, url).toBe(400);
      return res.body.error.fields.map((f: any) => f.field);
    };
    expect(await field('GET', '/v1/sessions?status=done')).toEqual(['query.status']);
    expect(await field('GET', '/v1/sessions?cursor=abc')).toEqual(['query.cursor']);
    expect(await field('GET', '/v1/sessions?limit=0')).toEqual(['query.limit']);
    expect(await field('GET', '/v1/sessions/not-a-uuid')).toEqual(['path.id']);
    expect(await field('POST', '/v1/sessions/not-a-uuid/pause')).toEqual(['path.id']);
    const unknown = '01890000-0000-7000-8000-000000000000';
    expect((await t.call('GET', `/v1/sessions/${unknown}`, { key: ws.ownerKey })).status).toBe(404);
    expect((await control(unknown, 'cancel', ws.ownerKey)).status).toBe(404);
    expect((await t.call('GET', '/v1/sessions?agent_id=ghost', { key: ws.ownerKey })).status).toBe(404);
  });
});

describe('timeline and events', () => {
  it('every control writes an activity row with the session, the actor and channel api', async () => {
    const { ws, a } = await setup();
    const s1 = await open(a.key);
    const s2 = await open(a.key);
    await control(s1.id, 'pause', ws.ownerKey);
    await control(s1.id, 'resume', a.key);
    await control(s1.id, 'cancel', ws.ownerKey);
    await control(s2.id, 'complete', a.key);
    const timeline = await t.call('GET', `/v1/agents/${a.id}/activity`, { key: ws.ownerKey });
    const rows = timeline.body.data.filter(
      (r: any) => r.action.startsWith('session.') && r.action !== 'session.created',
    );
    const member = { type: 'member', id: ws.ownerId };
    const agent = { type: 'agent', id: a.id };
    expect(rows).toMatchObject([
      { action: 'session.completed', session_id: s2.id, agent_id: a.id, actor: agent, channel: 'api' },
      { action: 'session.cancelled', session_id: s1.id, agent_id: a.id, actor: member, channel: 'api' },
      { action: 'session.resumed', session_id: s1.id, agent_id: a.id, actor: agent, channel: 'api' },
      { action: 'session.paused', session_id: s1.id, agent_id: a.id, actor: member, channel: 'api' },
    ]);
  });

  it('pause, resume and cancel each write one outbox event carrying the session; complete writes none', async () => {
    const { ws, a } = await setup();
    const s1 = await open(a.key);
    const s2 = await open(a.key);
    await control(s1.id, 'pause', ws.ownerKey);
    await control(s1.id, 'resume', ws.ownerKey);
    await control(s1.id, 'cancel', a.key);
    await control(s2.id, 'complete', a.key);
    const events = await outbox(a.id);
    expect(events.map((e) => e.type)).toEqual(['session.paused', 'session.resumed', 'session.cancelled']);
    expect(events.map((e) => (e.payload as any).data.id)).toEqual([s1.id, s1.id, s1.id]);
    expect(events.map((e) => (e.payload as any).data.status)).toEqual(['paused', 'running', 'cancelled']);
  });

  it('10 concurrent pauses: exactly one 200, nine 409 already_paused, one activity row, one event', async () => {
    const { ws, a } = await setup();
    const s = await open(a.key);
    const results = await Promise.all(Array.from({ length: 10 }, () => control(s.id, 'pause', ws.ownerKey)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(Array(9).fill([409, 'already_paused']));
    const rows = await t.deps.db
      .selectFrom('activity')
      .select('id')
      .where('session_id', '=', s.id)
      .where('action', '=', 'session.paused')
      .execute();
    expect(rows).toHaveLength(1);
    expect((await outbox(a.id)).map((e) => e.type)).toEqual(['session.paused']);
  });
});
