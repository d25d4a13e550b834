import { Queue } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { TIMER_LEAD_MS } from '../jobs/arm.js';
import { ARM_AHEAD_MS } from '../src/timer-horizon.js';
import { buildDeps, buildWeb, closeDeps } from '../src/app.js';
import { useTestApp, type TestApp } from './support/app.js';
import { useWorkers } from './support/worker.js';

const t = useTestApp({ MAX_TIMEOUT_HOURS: '48', PUBLIC_URL: 'https://leash.example.test' });
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of stops.splice(0).reverse()) await fn();
});
const worker = useWorkers(t);

const ask = (extra: Record<string, unknown> = {}) => ({
  recipient: 'alice@example.com',
  channel: 'web',
  message: 'Send a $340 wire to Acme?',
  options: ['Approve', 'Reject'],
  ...extra,
});

async function setup(name = 'asker') {
  const ws = await t.workspace();
  const agent = await ws.agent(name);
  const approver = await ws.member('approver');
  return { ws, agent, approver };
}

async function approvalsOf(t: TestApp, workspaceId: string) {
  return t.deps.db.selectFrom('approvals').selectAll().where('workspace_id', '=', workspaceId).execute();
}

describe('POST /v1/pause', () => {
  it('creates the full approval object, with a response-page url and a 24 h default timeout', async () => {
    const { agent } = await setup();
    const before = Date.now();
    const res = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: ask({ allow_text_response: true, timeout_default: 'Reject' }),
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      status: 'pending',
      response_choice: null,
      response_text: null,
      response_at: null,
      metadata: null,
      channel: 'web',
      recipient: 'alice@example.com',
      message: 'Send a $340 wire to Acme?',
      options: ['Approve', 'Reject'],
      allow_text_response: true,
      timeout_default: 'Reject',
      agent_id: agent.id,
      responder: null,
      via_timeout: false,
    });
    expect(res.body.pause_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.url).toMatch(/^https:\/\/leash\.example\.test\/r\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const expires = Date.parse(res.body.expires_at) - before;
    expect(expires).toBeGreaterThan(24 * 3600_000 - 5_000);
    expect(expires).toBeLessThan(24 * 3600_000 + 5_000);
  });

  it('returns metadata byte-for-byte, everywhere', async () => {
    const { ws, agent } = await setup();
    const metadata = {
      amount: 340.5,
      currency: 'USD',
      nested: { list: [1, 'two', null, { deep: true }] },
      'üñï©ødé': '🚀',
      empty: {},
    };
    const created = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ metadata }) });
    expect(JSON.stringify(created.body.metadata)).toBe(JSON.stringify(metadata));
    const got = await t.call('GET', `/v1/pause/${created.body.pause_id}`, { key: agent.key });
    expect(JSON.stringify(got.body.metadata)).toBe(JSON.stringify(metadata));
    const decided = await t.call('POST', `/v1/pause/${created.body.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Approve' },
    });
    expect(JSON.stringify(decided.body.metadata)).toBe(JSON.stringify(metadata));
    const [event] = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('type', '=', 'pause_request.responded')
      .where('workspace_id', '=', ws.id)
      .execute();
    expect(JSON.stringify((event!.payload.data as any).metadata)).toBe(JSON.stringify(metadata));
  });

  it.each([
    [{ recipient: undefined }, 'recipient', 'is required'],
    [{ channel: 'fax' }, 'channel', 'must be one of sms, email, slack, telegram, web'],
    [{ message: '' }, 'message', 'must not be empty'],
    [{ message: 'x'.repeat(2001) }, 'message', 'at most 2000'],
    [{ options: ['only'] }, 'options', 'at least 2'],
    [{ options: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'options', 'at most 5'],
    [{ options: ['same', 'same'] }, 'options', 'must be distinct'],
    [{ options: ['ok', ''] }, 'options.1', 'must not be empty'],
    [{ options: ['ok', 3] }, 'options.1', 'must be a string'],
    [{ allow_text_response: 'yes' }, 'allow_text_response', 'must be a boolean'],
    [{ timeout_hours: 0 }, 'timeout_hours', 'at least 1'],
    [{ timeout_hours: 49 }, 'timeout_hours', 'at most 48'],
    [{ timeout_hours: 1.5 }, 'timeout_hours', ''],
    [{ timeout_seconds: 0 }, 'timeout_seconds', 'at least 1'],
    [{ timeout_seconds: 48 * 3600 + 1 }, 'timeout_seconds', 'at most'],
    [{ timeout_hours: 1, timeout_seconds: 60 }, 'timeout_seconds', 'not both'],
    [{ timeout_default: 'Maybe' }, 'timeout_default', 'must be one of options'],
    [{ metadata: [1, 2] }, 'metadata', 'must be an object'],
    [{ metadata: { blob: 'x'.repeat(16 * 1024) } }, 'metadata', 'at most 16 KiB'],
    [{ callback: 'x' }, 'callback', 'is not a known field'],
    [{ channel: 'web', recipient: 'not anyone' }, 'recipient', 'email address or a member id'],
    [{ channel: 'sms', recipient: '555-1234' }, 'recipient', 'E.164'],
    [{ channel: 'email', recipient: 'nobody' }, 'recipient', 'email address'],
    [{ channel: 'slack', recipient: 'general' }, 'recipient', 'Slack channel or user ID'],
    [{ channel: 'telegram', recipient: 'bob' }, 'recipient', 'Telegram chat ID'],
  ])('refuses %j with 400 naming %s, storing nothing', async (extra, field, message) => {
    const { ws, agent } = await setup();
    const res = await t.call('POST', '/v1/pause', { key: agent.key, body: ask(extra) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.fields.map((f: any) => f.field)).toContain(field);
    expect(res.body.error.message).toContain(message);
    expect(await approvalsOf(t, ws.id)).toEqual([]);
  });

  it.each([
    ['sms', '+15551234567'],
    ['email', 'bob@example.com'],
    ['slack', 'C0123ABCD'],
    ['telegram', '123456789'],
  ])('a channel without credentials (%s) is 400 channel_unavailable', async (channel, recipient) => {
    const { ws, agent } = await setup();
    const res = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ channel, recipient }) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'channel_unavailable',
      message: `The ${channel} channel is not configured on this Leash`,
    });
    expect(await approvalsOf(t, ws.id)).toEqual([]);
  });

  it('a paused agent (either mode) gets 403 AGENT_PAUSED_BY_OWNER; a stopped one 403 AGENT_INACTIVE; nothing stored', async () => {
    const { ws, agent } = await setup();
    for (const mode of ['send', 'full']) {
      await t.call('POST', `/v1/agents/${agent.id}/pause`, { key: ws.ownerKey, body: { mode } });
      const res = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('AGENT_PAUSED_BY_OWNER');
    }
    await t.call('POST', `/v1/agents/${agent.id}/unpause`, { key: ws.ownerKey });
    await t.call('POST', `/v1/agents/${agent.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    const stopped = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    expect(stopped.status).toBe(403);
    expect(stopped.body.error.code).toBe('AGENT_INACTIVE');
    expect(await approvalsOf(t, ws.id)).toEqual([]);
  });

  it('members with role approver or owner may ask (agent_id null); viewers may not', async () => {
    const { ws, approver } = await setup();
    const viewer = await ws.member('viewer');
    const mine = await t.call('POST', '/v1/pause', { key: approver.key, body: ask() });
    expect(mine.status).toBe(201);
    expect(mine.body.agent_id).toBeNull();
    expect((await t.call('POST', '/v1/pause', { key: viewer.key, body: ask() })).status).toBe(403);
  });

  it('honours Idempotency-Key: a replay returns the same approval, one row', async () => {
    const { ws, agent } = await setup();
    const headers = { 'idempotency-key': 'wire-340' };
    const a = await t.call('POST', '/v1/pause', { key: agent.key, body: ask(), headers });
    const b = await t.call('POST', '/v1/pause', { key: agent.key, body: ask(), headers });
    expect(b.body.pause_id).toBe(a.body.pause_id);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(await approvalsOf(t, ws.id)).toHaveLength(1);
    const other = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ message: 'different' }), headers });
    expect(other.body.error.code).toBe('idempotency_key_reused');
  });

  it('concurrent asks (keys looked up together, approvals committed together) each get their own outcome', async () => {
    const { ws, agent: ok1, approver } = await setup('ok-1');
    const ok2 = await ws.agent('ok-2');
    const full = await ws.agent('held-full');
    const send = await ws.agent('held-send');
    const stopped = await ws.agent('gone');
    await t.call('POST', `/v1/agents/${full.id}/pause`, { key: ws.ownerKey, body: { mode: 'full' } });
    await t.call('POST', `/v1/agents/${send.id}/pause`, { key: ws.ownerKey, body: { mode: 'send' } });
    await t.call('POST', `/v1/agents/${stopped.id}/stop`, { key: ws.ownerKey, body: { graceful: false } });
    // Same prefix as ok-1's key, wrong secret: shares ok-1's lookup row but must not pass.
    const forged = ok1.key.slice(0, 18) + 'x'.repeat(ok1.key.length - 18);
    const askers = [
      { name: 'ok-1', key: ok1.key, status: 201, agentId: ok1.id },
      { name: 'ok-2', key: ok2.key, status: 201, agentId: ok2.id },
      { name: 'approver', key: approver.key, status: 201, agentId: null },
      { name: 'held-full', key: full.key, status: 403, code: 'AGENT_PAUSED_BY_OWNER' },
      { name: 'held-send', key: send.key, status: 403, code: 'AGENT_PAUSED_BY_OWNER' },
      { name: 'gone', key: stopped.key, status: 403, code: 'AGENT_INACTIVE' },
      { name: 'forged', key: forged, status: 401, code: 'unauthorized' },
    ];
    // Even ones are due within the arming horizon (an approval.requested event each), odd ones not.
    const calls = askers.flatMap((a) =>
      Array.from({ length: 6 }, (_, i) => ({ ...a, message: `${a.name} asks #${i}`, soon: i % 2 === 0 })),
    );
    const results = await Promise.all(
      calls.map((c) =>
        t.call('POST', '/v1/pause', {
          key: c.key,
          body: ask({ message: c.message, ...(c.soon ? { timeout_seconds: 60 } : {}) }),
        }),
      ),
    );
    const created: string[] = [];
    const soon: string[] = [];
    calls.forEach((c, i) => {
      const res = results[i]!;
      expect(res.status, c.message).toBe(c.status);
      if (c.status === 201) {
        expect(res.body).toMatchObject({ message: c.message, agent_id: c.agentId, status: 'pending' });
        created.push(res.body.pause_id);
        if (c.soon) soon.push(res.body.pause_id);
      } else {
        expect(res.body.error.code).toBe(c.code);
        if (c.status === 403) expect(res.body.error.message).toContain(c.name);
      }
    });
    const rows = await approvalsOf(t, ws.id);
    expect(rows.map((r) => r.id).sort()).toEqual([...created].sort());
    for (const r of rows)
      expect(r.message).toBe(results[calls.findIndex((_, i) => results[i]!.body.pause_id === r.id)]!.body.message);
    const timeline = await t.deps.db
      .selectFrom('activity')
      .select('details')
      .where('workspace_id', '=', ws.id)
      .where('action', '=', 'approval.requested')
      .execute();
    expect(timeline.map((a) => (a.details as { pause_id: string }).pause_id).sort()).toEqual([...created].sort());
    const events = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('workspace_id', '=', ws.id)
      .where('type', '=', 'approval.requested')
      .execute();
    expect(events.map((e) => (e.payload.data as { pause_id: string }).pause_id).sort()).toEqual([...soon].sort());
  });
});

describe('deciding', () => {
  it('an approver answers; the first answer wins and later ones get 409 not_pending naming the winner', async () => {
    const { ws, agent, approver } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ allow_text_response: true }) });
    const res = await t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
      key: approver.key,
      body: { choice: 'Approve', text: 'fine' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      response_text: 'fine',
      via_timeout: false,
    });
    expect(res.body.responder).toMatchObject({ channel: 'api', member_id: approver.id });
    const late = await t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Reject' },
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('not_pending');
    expect(late.body.error.message).toMatch(/^Already decided by .+: Approve$/);
    const timeline = await t.call('GET', `/v1/agents/${agent.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({
      action: 'approval.responded',
      actor: { id: approver.id },
      details: { pause_id: a.pause_id, choice: 'Approve' },
    });
  });

  it('20 concurrent responders: exactly one wins, one timeline row, one event', async () => {
    const { ws, agent } = await setup();
    const members = await Promise.all(Array.from({ length: 20 }, () => ws.member('approver')));
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    const results = await Promise.all(
      members.map((m, i) =>
        t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
          key: m.key,
          body: { choice: i % 2 ? 'Approve' : 'Reject' },
        }),
      ),
    );
    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
    const final = await t.call('GET', `/v1/pause/${a.pause_id}`, { key: agent.key });
    expect(final.body.response_choice).toBe(winners[0]!.body.response_choice);
    const rows = await t.deps.db
      .selectFrom('activity')
      .select('id')
      .where('action', '=', 'approval.responded')
      .where('workspace_id', '=', ws.id)
      .execute();
    expect(rows).toHaveLength(1);
    const events = await t.deps.db
      .selectFrom('outbox')
      .select('id')
      .where('type', '=', 'pause_request.responded')
      .where('workspace_id', '=', ws.id)
      .execute();
    expect(events).toHaveLength(1);
  });

  it('an answer and a cancel write the approval, its timeline row and its event (the approval exactly as the API shows it) together', async () => {
    const { ws, agent, approver } = await setup();
    const metadata = { z: 1, a: { y: [2, 'x'] }, ünï: null };
    const { body: a } = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: ask({ allow_text_response: true, metadata }),
    });
    const { body: b } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    const answered = await t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
      key: approver.key,
      body: { choice: 'Approve', text: 'ok, once' },
    });
    const cancelled = await t.call('POST', `/v1/pause/${b.pause_id}/cancel`, { key: agent.key });
    const { sql } = await import('kysely');
    for (const [res, type, details] of [
      [answered, 'pause_request.responded', { pause_id: a.pause_id, choice: 'Approve', text: 'ok, once' }],
      [cancelled, 'pause_request.cancelled', { pause_id: b.pause_id, choice: null }],
    ] as const) {
      expect(res.status).toBe(200);
      const got = await t.call('GET', `/v1/pause/${res.body.pause_id}`, { key: agent.key });
      expect(got.body).toEqual(res.body);
      // The stored text: webhooks are signed over it, so the view's keys keep their order, and
      // metadata its own (json, not jsonb).
      const { rows } = await sql<{
        payload: string;
        agent_id: string;
      }>`select payload::text as payload, agent_id from outbox where type = ${type} and workspace_id = ${ws.id}`.execute(
        t.deps.db,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.agent_id).toBe(agent.id);
      const event = JSON.parse(rows[0]!.payload);
      expect(event.type).toBe(type);
      expect(Math.abs(Date.parse(event.timestamp) - Date.parse(res.body.response_at))).toBeLessThan(1_000);
      expect(event.data).toEqual(got.body);
      expect(Object.keys(event.data)).toEqual(Object.keys(got.body));
      expect(JSON.stringify(event.data.metadata)).toBe(JSON.stringify(res === answered ? metadata : null));
      const timeline = await t.deps.db
        .selectFrom('activity')
        .selectAll()
        .where('action', '=', `approval.${res.body.status}`)
        .where('workspace_id', '=', ws.id)
        .execute();
      expect(timeline).toHaveLength(1);
      expect(timeline[0]).toMatchObject({ agent_id: agent.id, details });
    }
    expect(
      (
        await t.deps.db
          .selectFrom('activity')
          .select('actor')
          .where('action', '=', 'approval.responded')
          .where('workspace_id', '=', ws.id)
          .executeTakeFirstOrThrow()
      ).actor,
    ).toMatchObject({ type: 'member', id: approver.id });
  });

  it('refuses a choice outside the options, a text when none is allowed, viewers and agent keys; nothing changes', async () => {
    const { ws, agent } = await setup();
    const viewer = await ws.member('viewer');
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    const url = `/v1/pause/${a.pause_id}/respond`;
    const bad = await t.call('POST', url, { key: ws.ownerKey, body: { choice: 'Maybe' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields[0]).toEqual({ field: 'choice', message: 'must be one of "Approve", "Reject"' });
    const text = await t.call('POST', url, { key: ws.ownerKey, body: { choice: 'Approve', text: 'note' } });
    expect(text.status).toBe(400);
    expect(text.body.error.fields[0].field).toBe('text');
    expect((await t.call('POST', url, { key: viewer.key, body: { choice: 'Approve' } })).status).toBe(403);
    expect((await t.call('POST', url, { key: agent.key, body: { choice: 'Approve' } })).status).toBe(403);
    expect((await t.call('POST', url, { key: ws.ownerKey, body: {} })).body.error.message).toBe('choice: is required');
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: agent.key })).body.status).toBe('pending');
  });

  it('cancel: the asking agent or an approver; 409 not_pending once settled; other agents get 404', async () => {
    const { ws, agent } = await setup();
    const other = await ws.agent('other');
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    expect((await t.call('POST', `/v1/pause/${a.pause_id}/cancel`, { key: other.key })).status).toBe(404);
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: other.key })).status).toBe(404);
    const cancelled = await t.call('POST', `/v1/pause/${a.pause_id}/cancel`, { key: agent.key });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const again = await t.call('POST', `/v1/pause/${a.pause_id}/cancel`, { key: ws.ownerKey });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('Already cancelled');
    const answer = await t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Approve' },
    });
    expect(answer.status).toBe(409);
  });

  it('another workspace’s approval is 404 for reading, answering and cancelling', async () => {
    const { agent } = await setup();
    const other = await t.workspace();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: other.ownerKey })).status).toBe(404);
    expect(
      (await t.call('POST', `/v1/pause/${a.pause_id}/respond`, { key: other.ownerKey, body: { choice: 'Approve' } }))
        .status,
    ).toBe(404);
    expect((await t.call('POST', `/v1/pause/${a.pause_id}/cancel`, { key: other.ownerKey })).status).toBe(404);
  });

  it('stopping an agent cancels its pending approvals (and leaves settled ones alone)', async () => {
    const { ws, agent } = await setup();
    const { body: p } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    const { body: d } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    await t.call('POST', `/v1/pause/${d.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Reject' } });
    const stopped = await t.call('POST', `/v1/agents/${agent.id}/stop`, {
      key: ws.ownerKey,
      body: { graceful: false },
    });
    expect(stopped.status).toBe(200);
    expect((await t.call('GET', `/v1/pause/${p.pause_id}`, { key: ws.ownerKey })).body.status).toBe('cancelled');
    expect((await t.call('GET', `/v1/pause/${d.pause_id}`, { key: ws.ownerKey })).body.status).toBe('responded');
    const timeline = await t.call('GET', `/v1/agents/${agent.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({ action: 'agent.stopped', details: { approvals_cancelled: 1 } });
  });
});

describe('reading', () => {
  it('viewers read approvals without the answering link; approvers and the asking agent get it', async () => {
    const { ws, agent, approver } = await setup();
    const viewer = await ws.member('viewer');
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: viewer.key })).body.url).toBeNull();
    expect((await t.call('GET', '/v1/pause', { key: viewer.key })).body.data[0].url).toBeNull();
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: approver.key })).body.url).toBe(a.url);
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: agent.key })).body.url).toBe(a.url);
  });

  it('a read after expires_at settles the timeout, even with no worker running', async () => {
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: ask({ timeout_seconds: 1, timeout_default: 'Reject' }),
    });
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await t.call('GET', `/v1/pause/${a.pause_id}`, { key: agent.key });
    expect(res.body).toMatchObject({ status: 'timed_out', response_choice: 'Reject', via_timeout: true });
  });

  it('lists newest first with status and agent filters; agents see only their own', async () => {
    const { ws, agent } = await setup();
    const other = await ws.agent('other');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ message: `q${i}` }) })).body.pause_id);
    await t.call('POST', '/v1/pause', { key: other.key, body: ask() });
    await t.call('POST', `/v1/pause/${ids[0]}/respond`, { key: ws.ownerKey, body: { choice: 'Approve' } });

    const pending = await t.call('GET', `/v1/pause?status=pending&agent_id=${agent.id}`, { key: ws.ownerKey });
    expect(pending.body.data.map((a: any) => a.pause_id)).toEqual([ids[2], ids[1]]);
    const byName = await t.call('GET', '/v1/pause?agent_id=asker&limit=2', { key: ws.ownerKey });
    expect(byName.body.data.map((a: any) => a.pause_id)).toEqual([ids[2], ids[1]]);
    const next = await t.call('GET', `/v1/pause?agent_id=asker&limit=2&cursor=${byName.body.next_cursor}`, {
      key: ws.ownerKey,
    });
    expect(next.body.data.map((a: any) => a.pause_id)).toEqual([ids[0]]);
    expect(next.body.next_cursor).toBeNull();
    const own = await t.call('GET', '/v1/pause', { key: other.key });
    expect(own.body.data).toHaveLength(1);
    expect((await t.call('GET', '/v1/pause?status=maybe', { key: ws.ownerKey })).status).toBe(400);
  });
});

describe('long-poll: GET /v1/pause/{id}?wait=N', () => {
  it('returns within milliseconds of a decision made through another Leash process', async () => {
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    // A second web process: its own pool and its own LISTEN connection.
    const otherDeps = buildDeps(t.config);
    const other = await buildWeb(otherDeps);
    stops.push(async () => {
      await other.close();
      await closeDeps(otherDeps);
    });
    const approver = await setupApproverIn(a);
    const started = Date.now();
    const polling = t.call('GET', `/v1/pause/${a.pause_id}?wait=20`, { key: agent.key });
    await new Promise((r) => setTimeout(r, 200));
    const decision = await other.inject({
      method: 'POST',
      url: `/v1/pause/${a.pause_id}/respond`,
      headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ choice: 'Approve' }),
    });
    const decidedAt = Date.now();
    expect(decision.statusCode).toBe(200);
    const res = await polling;
    const wokeAt = Date.now();
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('responded');
    expect(wokeAt - decidedAt).toBeLessThan(1_000);
    expect(wokeAt - started).toBeLessThan(5_000);
  });

  it('returns the still-pending approval after N seconds without a decision', async () => {
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    const started = Date.now();
    const res = await t.call('GET', `/v1/pause/${a.pause_id}?wait=1`, { key: agent.key });
    expect(res.body.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    for (const wait of ['-1', '61', 'soon']) {
      const bad = await t.call('GET', `/v1/pause/${a.pause_id}?wait=${wait}`, { key: agent.key });
      expect(bad.status, wait).toBe(400);
      expect(bad.body.error.fields[0].field).toBe('query.wait');
    }
  });
});

/** An approver key in the approval's workspace (for the second process). */
async function setupApproverIn(a: { pause_id: string }): Promise<string> {
  const row = await t.deps.db
    .selectFrom('approvals')
    .select('workspace_id')
    .where('id', '=', a.pause_id)
    .executeTakeFirstOrThrow();
  const { addMember } = await import('../src/members/members.js');
  const { operatorCtx } = await import('../src/context.js');
  const out = await addMember(t.deps.db, operatorCtx(row.workspace_id), {
    email: `lp-${Date.now()}@example.com`,
    role: 'approver',
  });
  return out.api_key;
}

describe('timeouts', () => {
  it('at expires_at a pending approval becomes timed_out with the default, via_timeout, an event and a timeline row', async () => {
    await worker();
    const { ws, agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: ask({ timeout_seconds: 1, timeout_default: 'Reject' }),
    });
    const res = await t.call('GET', `/v1/pause/${a.pause_id}?wait=10`, { key: agent.key });
    expect(res.body).toMatchObject({
      status: 'timed_out',
      response_choice: 'Reject',
      via_timeout: true,
      responder: null,
    });
    const late = Date.parse(res.body.response_at) - Date.parse(a.expires_at);
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(1_000);
    const timeline = await t.call('GET', `/v1/agents/${agent.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({
      action: 'approval.timed_out',
      channel: 'system',
      actor: { type: 'system', display: 'timeout' },
    });
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('outbox')
              .select('type')
              .where('workspace_id', '=', ws.id)
              .where('type', '=', 'pause_request.timed_out')
              .execute()
          ).length,
      )
      .toBe(1);
  });

  it('a timeout with no default leaves response_choice null', async () => {
    await worker();
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 1 }) });
    const res = await t.call('GET', `/v1/pause/${a.pause_id}?wait=10`, { key: agent.key });
    expect(res.body).toMatchObject({ status: 'timed_out', response_choice: null, via_timeout: true });
  });

  it('timers lost with Redis’s keys are re-armed from Postgres and still fire on time', async () => {
    const tw = await worker();
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 4 }) });
    // Wait until the timer is armed, then make Redis forget everything of ours.
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('outbox')
              .select('dispatched_at')
              .where('type', '=', 'approval.requested')
              .where('agent_id', '=', agent.id)
              .executeTakeFirst()
          )?.dispatched_at,
      )
      .not.toBeNull();
    expect(await tw.forget()).toBeGreaterThan(0);
    const res = await t.call('GET', `/v1/pause/${a.pause_id}?wait=15`, { key: agent.key });
    expect(res.body.status).toBe('timed_out');
    // Re-armed (not caught by the 5 s-overdue safety net): on time.
    expect(Date.parse(res.body.response_at) - Date.parse(a.expires_at)).toBeLessThan(1_000);
  });

  it('a web approval due beyond the arming horizon gets no event; the sweep arms its timer once the deadline is within it', async () => {
    const tw = await worker();
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 3600 }) });
    expect(
      await t.deps.db
        .selectFrom('outbox')
        .select('id')
        .where('agent_id', '=', agent.id)
        .where('type', '=', 'approval.requested')
        .execute(),
    ).toEqual([]);
    const timers = new Queue('timers', { connection: { url: t.config.redisUrl }, prefix: tw.prefix });
    stops.push(() => timers.close());
    await tw.w.sweep();
    expect(await timers.getJob(`expire.${a.pause_id}`)).toBeFalsy();
    // Time passes (moved by hand): the deadline is now 9 minutes away, within the 10-minute horizon.
    const due = Date.now() + ARM_AHEAD_MS - 60_000;
    await t.deps.db
      .updateTable('approvals')
      .set({ expires_at: new Date(due) })
      .where('id', '=', a.pause_id)
      .execute();
    await tw.w.sweep();
    const job = await timers.getJob(`expire.${a.pause_id}`);
    expect(job).toBeTruthy();
    // Armed to start TIMER_LEAD_MS before the deadline (give or take the sweep's own time).
    expect(Math.abs(job!.timestamp + job!.delay - (due - TIMER_LEAD_MS))).toBeLessThan(1_000);
  });

  it('with sweeps so far apart that the horizon is longer, a web approval asked after a sweep is still armed by the next', async () => {
    // 20-minute sweeps: the worker arms 40 minutes ahead, and did so at its start.
    const tw = await worker({ sweepIntervalMs: 20 * 60_000 });
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 15 * 60 }) });
    const timers = new Queue('timers', { connection: { url: t.config.redisUrl }, prefix: tw.prefix });
    stops.push(() => timers.close());
    expect(await timers.getJob(`expire.${a.pause_id}`)).toBeFalsy();
    await tw.w.sweep();
    expect(await timers.getJob(`expire.${a.pause_id}`)).toBeTruthy();
  });

  it('a web approval notifies nobody: it has no prompt, so its decision costs the worker no channel job', async () => {
    await worker();
    const { ws, agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask() });
    expect(a.delivery).toEqual([]);
    await t.call('POST', `/v1/pause/${a.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Approve' } });
    const dispatched = async () =>
      (
        await t.deps.db
          .selectFrom('outbox')
          .select('dispatched_at')
          .where('type', '=', 'pause_request.responded')
          .where('agent_id', '=', agent.id)
          .executeTakeFirst()
      )?.dispatched_at;
    await expect.poll(dispatched).not.toBeNull();
    expect(await t.deps.db.selectFrom('prompts').select('id').where('approval_id', '=', a.pause_id).execute()).toEqual(
      [],
    );
  });

  it('approvals that expired while no worker ran are timed out when a worker starts', async () => {
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 1 }) });
    await t.deps.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 60_000) })
      .where('id', '=', a.pause_id)
      .execute();
    await worker();
    const res = await t.call('GET', `/v1/pause/${a.pause_id}?wait=10`, { key: agent.key });
    expect(res.body).toMatchObject({ status: 'timed_out', via_timeout: true });
  });

  it('a cancel after expires_at is refused too, and the timeout is recorded', async () => {
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 1 }) });
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await t.call('POST', `/v1/pause/${a.pause_id}/cancel`, { key: agent.key });
    expect(res.status).toBe(409);
    const [row] = await t.deps.db
      .selectFrom('approvals')
      .select(['status', 'via_timeout'])
      .where('id', '=', a.pause_id)
      .execute();
    expect(row).toEqual({ status: 'timed_out', via_timeout: true });
  });

  it('the sweep times out an approval whose timer will not fire in time (safety net)', async () => {
    const tw = await worker();
    const { agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', { key: agent.key, body: ask({ timeout_seconds: 3600 }) });
    await tw.w.sweep();
    // An hour out, its timer is not armed yet; the record says it is long overdue.
    await t.deps.db
      .updateTable('approvals')
      .set({ expires_at: new Date(Date.now() - 60_000) })
      .where('id', '=', a.pause_id)
      .execute();
    await tw.w.sweep();
    const [row] = await t.deps.db
      .selectFrom('approvals')
      .select(['status', 'via_timeout'])
      .where('id', '=', a.pause_id)
      .execute();
    expect(row).toEqual({ status: 'timed_out', via_timeout: true });
  });

  it('an answer after expires_at but before the timer fires is refused, and the timeout is recorded', async () => {
    const { ws, agent } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', {
      key: agent.key,
      body: ask({ timeout_seconds: 1, timeout_default: 'Reject' }),
    });
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await t.call('POST', `/v1/pause/${a.pause_id}/respond`, {
      key: ws.ownerKey,
      body: { choice: 'Approve' },
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/^Timed out at/);
    const now = await t.call('GET', `/v1/pause/${a.pause_id}`, { key: agent.key });
    expect(now.body).toMatchObject({ status: 'timed_out', response_choice: 'Reject', via_timeout: true });
  });
});
