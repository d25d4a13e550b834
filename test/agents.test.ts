import { describe, expect, it } from 'vitest';
import { timelineCount, useTestApp } from './support/app.js';

const t = useTestApp();

describe('POST /v1/agents', () => {
  it('registers an agent and shows its key once', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'billing-bot', display_name: 'Billing' },
    });
    expect(res.status).toBe(201);
    expect(res.body.api_key).toMatch(/^lsh_a_[0-9A-Za-z]{44}$/);
    expect(res.body.delivery_secret).toBeUndefined();
    expect(res.body.agent).toMatchObject({
      name: 'billing-bot',
      display_name: 'Billing',
      status: 'active',
      pause: null,
      paused_at: null,
      stopped_at: null,
      backlog: { undelivered: 0, oldest_at: null },
      presence: 'offline',
    });
    // Only a hash is stored.
    const stored = await t.deps.db
      .selectFrom('api_keys')
      .selectAll()
      .where('agent_id', '=', res.body.agent.id)
      .executeTakeFirstOrThrow();
    expect(stored.key_hash.toString('hex')).not.toContain(res.body.api_key);
    expect(JSON.stringify(stored)).not.toContain(res.body.api_key.slice(20));
    // And the key works.
    const me = await t.call('GET', '/v1/agents/me', { key: res.body.api_key });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(res.body.agent.id);
  });

  it('returns a whsec_ delivery secret once when a delivery_url is given', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'hooked', delivery_url: 'http://127.0.0.1:9/in' },
    });
    expect(res.status).toBe(201);
    expect(res.body.delivery_secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(res.body.agent.delivery_url).toBe('http://127.0.0.1:9/in');
    const again = await t.call('GET', '/v1/agents/hooked', { key: ws.ownerKey });
    expect(JSON.stringify(again.body)).not.toContain('whsec_');
  });

  it.each([
    [{}, 'name', 'is required'],
    [{ name: '' }, 'name', 'must be 1-64'],
    [{ name: 'Billing Bot' }, 'name', 'must be 1-64'],
    [{ name: 'a'.repeat(65) }, 'name', 'must be 1-64'],
    [{ name: 'me' }, 'name', 'reserved'],
    [{ name: '01a204e2-633a-75bc-8288-a871a3e07b62' }, 'name', 'reserved'],
    [{ name: 42 }, 'name', 'must be a string'],
    [{ name: 'ok', display_name: '' }, 'display_name', 'must not be empty'],
    [{ name: 'ok', delivery_url: 'ftp://x' }, 'delivery_url', 'http(s)'],
    [{ name: 'ok', delivery_url: 'not a url' }, 'delivery_url', 'absolute'],
    [{ name: 'ok', colour: 'red' }, 'colour', 'is not a known field'],
  ])('refuses %j with 400 naming %s, and creates nothing', async (body, field, message) => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain(field);
    expect(res.body.error.fields).toContainEqual(expect.objectContaining({ field }));
    expect(res.body.error.message).toContain(message);
    const list = await t.call('GET', '/v1/agents', { key: ws.ownerKey });
    expect(list.body.data).toEqual([]);
  });

  it('refuses malformed JSON with 400 invalid_request', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: '{"name": "x"' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', message: 'body: is not valid JSON' });
  });

  it('409 name_taken for a duplicate name in the workspace, but the name is free in another', async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    await a.agent('dup');
    const again = await t.call('POST', '/v1/agents', { key: a.ownerKey, body: { name: 'dup' } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('name_taken');
    expect((await t.call('POST', '/v1/agents', { key: b.ownerKey, body: { name: 'dup' } })).status).toBe(201);
  });

  it('needs the owner role: approvers and viewers get 403, agent keys get 403, no key 401', async () => {
    const ws = await t.workspace();
    const approver = await ws.member('approver');
    const viewer = await ws.member('viewer');
    const agent = await ws.agent('existing');
    for (const key of [approver.key, viewer.key, agent.key]) {
      const res = await t.call('POST', '/v1/agents', { key, body: { name: 'nope' } });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    expect((await t.call('POST', '/v1/agents', { body: { name: 'nope' } })).status).toBe(401);
    const bad = await t.call('POST', '/v1/agents', { key: 'lsh_m_' + 'x'.repeat(44), body: { name: 'nope' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('unauthorized');
    const list = await t.call('GET', '/v1/agents', { key: ws.ownerKey });
    expect(list.body.data.map((a: any) => a.name)).toEqual(['existing']);
  });
});

describe('Idempotency-Key on POST /v1/agents', () => {
  it('same key and body replays the first response (same api_key), creating one agent', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'create-billing-1' };
    const first = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'billing' }, headers });
    const second = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'billing' }, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBe('false');
    const list = await t.call('GET', '/v1/agents', { key: ws.ownerKey });
    expect(list.body.data).toHaveLength(1);
  });

  it('the stored response is encrypted: no API key or delivery secret is kept in clear', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'secret-check' };
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'sealed', delivery_url: 'http://127.0.0.1:9/x' },
      headers,
    });
    const rows = await t.deps.db.selectFrom('idempotency_keys').selectAll().where('key', '=', 'secret-check').execute();
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(res.body.api_key.slice(6, 30));
    expect(stored).not.toContain(res.body.delivery_secret.slice(6, 30));
    expect(stored).not.toContain('sealed');
    const replay = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'sealed', delivery_url: 'http://127.0.0.1:9/x' },
      headers,
    });
    expect(replay.body.api_key).toBe(res.body.api_key);
  });

  it('a key older than 24 hours is forgotten: the same key creates anew', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'old-key' };
    await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'first' }, headers });
    await t.deps.db
      .updateTable('idempotency_keys')
      .set({ created_at: new Date(Date.now() - 25 * 3_600_000) })
      .where('key', '=', 'old-key')
      .execute();
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'second' }, headers });
    expect(res.status).toBe(201);
    expect(res.body.agent.name).toBe('second');
  });

  it('same key with a different body is 409 idempotency_key_reused and changes nothing', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'k-2' };
    await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'one' }, headers });
    const res = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'two' }, headers });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    const list = await t.call('GET', '/v1/agents', { key: ws.ownerKey });
    expect(list.body.data.map((a: any) => a.name)).toEqual(['one']);
  });

  it('concurrent duplicates create exactly one agent and all get the same response', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'race' };
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'racer' }, headers }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(results.map((r) => r.body.agent.id)).size).toBe(1);
    const n = await t.deps.db.selectFrom('agents').select('id').where('workspace_id', '=', ws.id).execute();
    expect(n).toHaveLength(1);
  });

  it('a failed create does not burn the key: fixing the body with the same key works', async () => {
    const ws = await t.workspace();
    await ws.agent('taken');
    const headers = { 'idempotency-key': 'retry-me' };
    const failed = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'taken' }, headers });
    expect(failed.status).toBe(409);
    const ok = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'taken' },
      headers: { 'idempotency-key': 'retry-me' },
    });
    // Same body, same failure: errors are not stored, the request runs again.
    expect(ok.status).toBe(409);
    expect(ok.body.error.code).toBe('name_taken');
  });

  it('keys are per caller: two owners may use the same key independently', async () => {
    const ws = await t.workspace();
    const other = await ws.member('owner');
    const headers = { 'idempotency-key': 'shared' };
    const a = await t.call('POST', '/v1/agents', { key: ws.ownerKey, body: { name: 'from-a' }, headers });
    const b = await t.call('POST', '/v1/agents', { key: other.key, body: { name: 'from-b' }, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.agent.name).toBe('from-b');
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: { name: 'x' },
      headers: { 'idempotency-key': 'a'.repeat(300) },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('idempotency-key');
  });
});

describe('GET /v1/agents and /v1/agents/{id}', () => {
  it('gets by id or by name; any role reads', async () => {
    const ws = await t.workspace();
    const viewer = await ws.member('viewer');
    const a = await ws.agent('reader-test');
    const byId = await t.call('GET', `/v1/agents/${a.id}`, { key: viewer.key });
    const byName = await t.call('GET', '/v1/agents/reader-test', { key: viewer.key });
    expect(byId.status).toBe(200);
    expect(byName.body).toEqual(byId.body);
  });

  it('another workspace’s agent is 404, by id and by name, for every route', async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    const theirs = await b.agent('secret-agent');
    for (const ref of [theirs.id, 'secret-agent']) {
      for (const [method, path, body] of [
        ['GET', '', undefined],
        ['PATCH', '', { display_name: 'x' }],
        ['DELETE', '', undefined],
        ['POST', '/pause', { mode: 'send' }],
        ['POST', '/unpause', undefined],
        ['POST', '/stop', { graceful: false }],
        ['POST', '/start', undefined],
        ['GET', '/activity', undefined],
      ] as const) {
        const res = await t.call(method, `/v1/agents/${ref}${path}`, { key: a.ownerKey, body });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    }
    const still = await t.call('GET', `/v1/agents/${theirs.id}`, { key: b.ownerKey });
    expect(still.body).toMatchObject({ status: 'active', pause: null, display_name: null });
  });

  it('lists with a cursor, oldest first, each agent once', async () => {
    const ws = await t.workspace();
    for (const n of ['a1', 'a2', 'a3', 'a4', 'a5']) await ws.agent(n);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await t.call('GET', `/v1/agents?limit=2${cursor ? `&cursor=${cursor}` : ''}`, {
        key: ws.ownerKey,
      });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((a: any) => a.name));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
  });

  it('refuses bad paging parameters with 400 naming them', async () => {
    const ws = await t.workspace();
    for (const q of ['limit=0', 'limit=1000', 'limit=abc', 'cursor=nope']) {
      const res = await t.call('GET', `/v1/agents?${q}`, { key: ws.ownerKey });
      expect(res.status, q).toBe(400);
      expect(res.body.error.message).toContain(`query.${q.split('=')[0]}`);
    }
  });

  it('agent keys cannot list or read owner views (403)', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('curious');
    expect((await t.call('GET', '/v1/agents', { key: a.key })).status).toBe(403);
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: a.key })).status).toBe(403);
  });
});

describe('PATCH and DELETE /v1/agents/{id}', () => {
  it('renames, changes display name, and records the change on the timeline', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('old-name');
    const res = await t.call('PATCH', '/v1/agents/old-name', {
      key: ws.ownerKey,
      body: { name: 'new-name', display_name: 'New' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: a.id, name: 'new-name', display_name: 'New' });
    expect((await t.call('GET', '/v1/agents/old-name', { key: ws.ownerKey })).status).toBe(404);
    const timeline = await t.call('GET', `/v1/agents/${a.id}/activity`, { key: ws.ownerKey });
    expect(timeline.body.data[0]).toMatchObject({
      action: 'agent.updated',
      details: { fields: ['name', 'display_name'] },
    });
  });

  it('setting delivery_url returns a new secret once; null removes it', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('patchy');
    const set = await t.call('PATCH', `/v1/agents/${a.id}`, {
      key: ws.ownerKey,
      body: { delivery_url: 'http://127.0.0.1:9/x' },
    });
    expect(set.body.delivery_secret).toMatch(/^whsec_/);
    const unset = await t.call('PATCH', `/v1/agents/${a.id}`, { key: ws.ownerKey, body: { delivery_url: null } });
    expect(unset.body.delivery_secret).toBeUndefined();
    expect(unset.body.delivery_url).toBeNull();
  });

  it('refuses a bad patch and changes nothing', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('stable');
    await ws.agent('other');
    const before = await timelineCount(t, a.id);
    for (const [body, code] of [
      [{ name: 'BAD NAME' }, 'invalid_request'],
      [{ name: 'other' }, 'name_taken'],
      [{ status: 'paused' }, 'invalid_request'],
    ] as const) {
      const res = await t.call('PATCH', `/v1/agents/${a.id}`, { key: ws.ownerKey, body });
      expect(res.body.error.code).toBe(code);
    }
    const after = await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey });
    expect(after.body.name).toBe('stable');
    expect(await timelineCount(t, a.id)).toBe(before);
  });

  it('delete: 204, then 404, key revoked, name reusable, timeline kept in the database', async () => {
    const ws = await t.workspace();
    const a = await ws.agent('doomed');
    const del = await t.call('DELETE', '/v1/agents/doomed', { key: ws.ownerKey });
    expect(del.status).toBe(204);
    expect((await t.call('GET', `/v1/agents/${a.id}`, { key: ws.ownerKey })).status).toBe(404);
    expect((await t.call('GET', '/v1/agents/me', { key: a.key })).status).toBe(401);
    expect((await t.call('DELETE', `/v1/agents/${a.id}`, { key: ws.ownerKey })).status).toBe(404);
    await ws.agent('doomed');
    const actions = await t.deps.db
      .selectFrom('activity')
      .select('action')
      .where('agent_id', '=', a.id)
      .orderBy('id')
      .execute();
    expect(actions.map((r) => r.action)).toEqual(['agent.created', 'agent.stopped', 'agent.deleted']);
  });
});
