import { describe, expect, it } from 'vitest';
import { timelineCount, useTestApp, type TestApp } from './support/app.js';

const t = useTestApp();

async function outboxTypes(t: TestApp, agentId: string): Promise<string[]> {
  const rows = await t.deps.db
    .selectFrom('outbox')
    .select('type')
    .where('agent_id', '=', agentId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.type);
}

describe('pause and unpause', () => {
  it('pauses with a mode and reason, visible to the agent itself, and unpauses', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('worker-1');
    const paused = await t.call('POST', '/v1/agents/worker-1/pause', {
      key: ws.ownerKey,
      body: { mode: 'full', reason: 'audit' },
    });
    expect(paused.status).toBe(200);
    expect(paused.body.status).toBe('paused');
    expect(paused.body.pause).toMatchObject({
      mode: 'full',
      reason: 'audit',
      by: { type: 'member', id: ws.ownerId, channel: 'api' },
    });
    expect(paused.body.paused_at).toBe(paused.body.pause.since);

    const me = await t.call('GET', '/v1/agents/me', { key: a.key });
    expect(me.body.pause).toMatchObject({ mode: 'full', reason: 'audit' });

    const unpaused = await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
    expect(unpaused.status).toBe(200);
    expect(unpaused.body).toMatchObject({ status: 'active', pause: null, paused_at: null });
    expect((await t.call('GET', '/v1/agents/me', { key: a.key })).body.pause).toBeNull();
    expect(await outboxTypes(t, a.id)).toEqual(['agent.paused', 'agent.unpaused']);
  });

  it('same mode again is 409 already_paused; the other mode switches and keeps the start time', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('switcher');
    const first = await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    const again = await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_paused');
    const switched = await t.call('POST', `/v1/agents/${a.id}/pause`, {
      key: ws.ownerKey,
      body: { mode: 'full', reason: 'escalate' },
    });
    expect(switched.status).toBe(200);
    expect(switched.body.pause).toMatchObject({ mode: 'full', reason: 'escalate', since: first.body.pause.since });
    const timeline = await t.call('GET', `/v1/agents/${a.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({
      action: 'agent.paused',
      details: { mode: 'full', previous_mode: 'send', reason: 'escalate' },
    });
  });

  it('unpausing an unpaused agent is 409 not_paused and writes nothing', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('calm');
    const before = await timelineCount(t, a.id);
    const res = await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'not_paused', message: 'calm is not paused' });
    expect(await timelineCount(t, a.id)).toBe(before);
    expect(await outboxTypes(t, a.id)).toEqual([]);
  });

  it.each([
    [{}, 'mode', 'is required'],
    [{ mode: 'half' }, 'mode', 'must be one of send, full'],
    [{ mode: 'send', reason: 'x'.repeat(501) }, 'reason', 'at most 500'],
    [{ mode: 'send', reson: 'typo' }, 'reson', 'is not a known field'],
  ])('refuses pause body %j naming %s; nothing changes', async (body, field, message) => {
    const ws = await t.workspace();
    const a = await ws.agent('strict');
    const before = await timelineCount(t, a.id);
    const res = await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      `${field}: ${message}`.replace(/at most 500$/, 'must be at most 500 characters'),
    );
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.pause).toBeNull();
    expect(await timelineCount(t, a.id)).toBe(before);
  });

  it('only owners control: approver, viewer and agent keys get 403 and nothing changes', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('guarded');
    const approver = await ws.member('approver');
    const viewer = await ws.member('viewer');
    for (const key of [approver.key, viewer.key, a.key]) {
      for (const verb of ['pause', 'unpause', 'stop', 'start']) {
        const res = await t.call('POST', `/v1/agents/${a.id}/${verb}`, {
          key,
          body: verb === 'pause' ? { mode: 'send' } : {},
        });
        expect(res.status, verb).toBe(403);
      }
    }
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.status).toBe('active');
    expect(await timelineCount(t, a.id)).toBe(1); // agent.created only
  });

  it('20 concurrent pauses: exactly one wins, one timeline row, one event', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('contended');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full', reason: `r${i}` } }),
      ),
    );
    const codes = results.map((r) => r.status).sort();
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(19);
    const rows = await t.deps.db
      .selectFrom('activity')
      .select('action')
      .where('agent_id', '=', a.id)
      .where('action', '=', 'agent.paused')
      .execute();
    expect(rows).toHaveLength(1);
    expect(await outboxTypes(t, a.id)).toEqual(['agent.paused']);
  });
});

describe('stop and start', () => {
  it('force stop: inactive at once with stopped_at; a second stop is 409 not_running', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('forced');
    const res = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('inactive');
    expect(Date.parse(res.body.stopped_at)).toBeGreaterThan(Date.now() - 10_000);
    const before = await timelineCount(t, a.id);
    const again = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('not_running');
    expect(await timelineCount(t, a.id)).toBe(before);
  });

  it('graceful stop with no live connection stops at once', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('unplugged');
    const started = Date.now();
    const res = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('inactive');
    expect(Date.now() - started).toBeLessThan(5_000);
    const timeline = await t.call('GET', `/v1/agents/${a.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({
      action: 'agent.stopped',
      details: { graceful: true, confirmed: false },
    });
  });

  it('graceful stop with a live connection waits for the agent’s confirmation', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('polite', { delivery_url: 'http://127.0.0.1:9/events' });
    const stopping = t.call('POST', `/v1/agents/${a.id}/stop`, {
      key: ws.ownerKey,
      body: { graceful: true, timeout: 10_000 },
    });
    // The agent sees `stopping` and the event is in the outbox for its runtime.
    await expect.poll(async () => (await t.call('GET', '/v1/agents/me', { key: a.key })).body.status).toBe('stopping');
    expect(await outboxTypes(t, a.id)).toEqual(['agent.stop_requested']);
    const confirmed = await t.call('POST', '/v1/agents/me/stopped', { key: a.key });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('inactive');
    const res = await stopping;
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('inactive');
    expect(res.body.stopped_at).toBe(confirmed.body.stopped_at);
    const actions = (await t.call('GET', `/v1/agents/${a.id}/activity`, { key: ws.ownerKey })).body.data.map(
      (r: any) => r.action,
    );
    expect(actions.slice(0, 2)).toEqual(['agent.stopped', 'agent.stop_requested']);
  });

  it('no confirmation by the deadline: 408 graceful_timeout, stays stopping, and force still works', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('deaf', { delivery_url: 'http://127.0.0.1:9/events' });
    const res = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { timeout: 300 } });
    expect(res.status).toBe(408);
    expect(res.body.error.code).toBe('graceful_timeout');
    const now = await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey });
    expect(now.body.status).toBe('stopping');
    expect(now.body.stop_deadline).not.toBeNull();
    const forced = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ status: 'inactive', stop_deadline: null });
  });

  it('start brings a stopped agent back (409 already_running otherwise), keeping any pause', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('phoenix');
    const running = await t.call('POST', `/v1/agents/${a.id}/start`, { key: ws.ownerKey });
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe('already_running');
    await t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    const started = await t.call('POST', `/v1/agents/${a.id}/start`, { key: ws.ownerKey });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: 'paused', stopped_at: null, pause: { mode: 'send' } });
    expect(await outboxTypes(t, a.id)).toEqual(['agent.paused', 'agent.stopped', 'agent.started']);
  });

  it('stopping cancels the agent’s open sessions', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('busy');
    const s1 = await t.call('POST', '/v1/sessions', { key: a.key, body: { task: 'one' } });
    const s2 = await t.call('POST', '/v1/sessions', { key: a.key, body: { task: 'two' } });
    await t.call('POST', `/v1/sessions/${s2.body.id}/complete`, { key: a.key });
    await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    expect((await t.call('GET', `/v1/sessions/${s1.body.id}`, { key: ws.ownerKey })).body.status).toBe('cancelled');
    expect((await t.call('GET', `/v1/sessions/${s2.body.id}`, { key: ws.ownerKey })).body.status).toBe('completed');
  });

  it('refuses bad stop bodies with 400 naming the field', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('picky');
    for (const [body, field] of [
      [{ graceful: 'yes' }, 'graceful'],
      [{ timeout: -1 }, 'timeout'],
      [{ timeout: 1.5 }, 'timeout'],
      [{ timeout: 10_000_000 }, 'timeout'],
    ] as const) {
      const res = await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body });
      expect(res.status).toBe(400);
      expect(res.body.error.fields[0].field).toBe(field);
    }
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.status).toBe('active');
  });

  it('POST /v1/agents/me/stopped: 409 not_running when already stopped; member keys 403', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('selfstop');
    const ok = await t.call('POST', '/v1/agents/me/stopped', { key: a.key });
    expect(ok.status).toBe(200);
    expect(ok.body.status).toBe('inactive');
    const again = await t.call('POST', '/v1/agents/me/stopped', { key: a.key });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('not_running');
    expect((await t.call('POST', '/v1/agents/me/stopped', { key: ws.ownerKey })).status).toBe(403);
    expect((await t.call('GET', '/v1/agents/me', { key: ws.ownerKey })).status).toBe(403);
  });
});

describe('delete', () => {
  it('wakes a waiting graceful stop at once and announces agent.stopped', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('mid-stop', { delivery_url: 'http://127.0.0.1:9/events' });
    const started = Date.now();
    const stopping = t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { timeout: 20_000 } });
    await expect
      .poll(async () => (await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.status)
      .toBe('stopping');
    expect((await t.call('DELETE', `/v1/agents/${a.id}`, { key: ws.ownerKey })).status).toBe(204);
    const res = await stopping;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(res.body.status).toBe('inactive');
    expect(await outboxTypes(t, a.id)).toEqual(['agent.stop_requested', 'agent.stopped']);
  });

  it('racing controls cannot touch a deleted agent: nothing is recorded after agent.deleted', async () => {
    const ws = await t.workspace();
    for (let round = 0; round < 5; round++) {
      const a = await ws.agent(`racer-${round}`);
      await t.call('POST', `/v1/agents/${a.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
      const results = await Promise.all([
        t.call('DELETE', `/v1/agents/${a.id}`, { key: ws.ownerKey }),
        t.call('POST', `/v1/agents/${a.id}/start`, { key: ws.ownerKey }),
        t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } }),
      ]);
      expect(results[0]!.status).toBe(204);
      for (const r of results.slice(1)) expect([200, 404]).toContain(r.status);
      const row = await t.deps.db.selectFrom('agents').selectAll().where('id', '=', a.id).executeTakeFirstOrThrow();
      expect(row.deleted_at).not.toBeNull();
      expect(row.run_state).toBe('stopped');
      const actions = await t.deps.db
        .selectFrom('activity')
        .select('action')
        .where('agent_id', '=', a.id)
        .orderBy('id')
        .execute();
      expect(actions.at(-1)!.action).toBe('agent.deleted');
    }
  });

  it('a refused start writes no timeline row', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('running-already');
    const before = await timelineCount(t, a.id);
    expect((await t.call('POST', `/v1/agents/${a.id}/start`, { key: ws.ownerKey })).status).toBe(409);
    expect(await timelineCount(t, a.id)).toBe(before);
  });

  it('concurrent send and full pauses: both apply in some order, each recorded once, and the state is one of them', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('two-modes');
    const [s, f] = await Promise.all([
      t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } }),
      t.call('POST', `/v1/agents/${a.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } }),
    ]);
    expect([s.status, f.status]).toEqual([200, 200]);
    const rows = await t.deps.db
      .selectFrom('activity')
      .select('details')
      .where('agent_id', '=', a.id)
      .where('action', '=', 'agent.paused')
      .orderBy('id')
      .execute();
    expect(rows).toHaveLength(2);
    // The second one records the first as its previous mode: the read is under the row lock.
    expect((rows[1]!.details as any).previous_mode).toBe((rows[0]!.details as any).mode);
    const final = (await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).body.pause.mode;
    expect(final).toBe((rows[1]!.details as any).mode);
  });
});

describe('activity timeline', () => {
  it('is newest first, cursor paginated, with actor, channel, mode and reason', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('chronicle');
    for (let i = 0; i < 3; i++) {
      await t.call('POST', `/v1/agents/${a.id}/pause`, {
        key: ws.ownerKey,
        body: { mode: 'send', reason: `round ${i}` },
      });
      await t.call('POST', `/v1/agents/${a.id}/unpause`, { key: ws.ownerKey });
    }
    const all: any[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await t.call('GET', `/v1/agents/${a.id}/activity?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
        key: ws.ownerKey,
      });
      all.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(all.map((r) => r.action)).toEqual([
      'agent.unpaused',
      'agent.paused',
      'agent.unpaused',
      'agent.paused',
      'agent.unpaused',
      'agent.paused',
      'agent.created',
    ]);
    expect(all[1]).toMatchObject({
      channel: 'api',
      actor: { type: 'member', id: ws.ownerId },
      details: { mode: 'send', reason: 'round 2' },
    });
    const times = all.map((r) => Date.parse(r.created_at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);
  });
});
