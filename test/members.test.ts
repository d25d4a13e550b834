import { describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from './support/app.js';
import { confirmHeld } from './support/identities.js';

const t = useTestApp();

let seq = 0;
const email = (tag = 'm') => `${tag}-${++seq}@example.com`;

/** The workspace's members as the API lists them (owner key, one big page). */
async function members(ws: Workspace): Promise<any[]> {
  const res = await t.call('GET', '/v1/members?limit=200', { key: ws.ownerKey });
  expect(res.status).toBe(200);
  return res.body.data;
}

/** The workspace's activity rows, oldest first, straight from the table. */
async function activity(ws: Workspace) {
  return t.deps.db.selectFrom('activity').selectAll().where('workspace_id', '=', ws.id).orderBy('id').execute();
}

const add = (ws: Workspace, body: Record<string, unknown>, headers?: Record<string, string>) =>
  t.call('POST', '/v1/members', { key: ws.ownerKey, body, headers });

describe('POST /v1/members', () => {
  it('adds a member and returns {member, api_key}; the lsh_m_ key acts as that member', async () => {
    const ws = await t.workspace();
    const res = await add(ws, { email: 'ann@example.com', role: 'approver', display_name: 'Ann' });
    expect(res.status).toBe(201);
    expect(res.body.api_key).toMatch(/^lsh_m_[0-9A-Za-z]{44}$/);
    expect(res.body.member).toMatchObject({
      email: 'ann@example.com',
      role: 'approver',
      display_name: 'Ann',
      phone: null,
      slack: null,
      telegram: null,
    });
    const me = await t.call('GET', '/v1/members/me', { key: res.body.api_key });
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.member);
  });

  it('links phone, Slack and Telegram identities; a Telegram user_id comes back as a string', async () => {
    const ws = await t.workspace();
    const slack = { team_id: 'T0123ABCD', user_id: 'U0123ABCD' };
    const a = await add(ws, {
      email: email(),
      role: 'owner',
      phone: '+15551234567',
      slack,
      telegram: { user_id: 123456 },
    });
    expect(a.status).toBe(201);
    expect(a.body.member).toMatchObject({
      role: 'owner',
      phone: '+15551234567',
      slack,
      telegram: { user_id: '123456' },
    });
    const b = await add(ws, { email: email(), role: 'viewer', telegram: { user_id: '987654' } });
    expect(b.status).toBe(201);
    expect(b.body.member).toMatchObject({ role: 'viewer', telegram: { user_id: '987654' } });
    const got = await t.call('GET', `/v1/members/${a.body.member.id}`, { key: ws.ownerKey });
    expect(got.body).toEqual(a.body.member);
  });

  it('shows each identity unconfirmed until its holder confirms it: phone_confirmed, slack.confirmed, telegram.confirmed', async () => {
    const ws = await t.workspace();
    const slack = { team_id: 'T0VIEW', user_id: 'U0VIEW' };
    const address = email('view');
    const a = await add(ws, {
      email: address,
      role: 'approver',
      phone: '+15557654321',
      slack,
      telegram: { user_id: 42 },
    });
    expect(a.body.member).toEqual({
      id: expect.any(String),
      email: address,
      role: 'approver',
      display_name: null,
      phone: '+15557654321',
      phone_confirmed: false,
      slack: { ...slack, confirmed: false },
      telegram: { user_id: '42', confirmed: false },
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    await confirmHeld(t, a.body.member.id);
    const got = await t.call('GET', `/v1/members/${a.body.member.id}`, { key: ws.ownerKey });
    expect(got.body).toMatchObject({
      phone_confirmed: true,
      slack: { ...slack, confirmed: true },
      telegram: { user_id: '42', confirmed: true },
    });
    const bare = await add(ws, { email: email(), role: 'viewer' });
    expect(bare.body.member).toMatchObject({ phone: null, phone_confirmed: false, slack: null, telegram: null });
  });

  it.each([
    [{ email: 'not-an-email', role: 'viewer' }, 'email'],
    [{ role: 'viewer' }, 'email'],
    [{ email: 'x@example.com', role: 'admin' }, 'role'],
    [{ email: 'x@example.com' }, 'role'],
    [{ email: 'x@example.com', role: 'viewer', phone: '5551234567' }, 'phone'],
    [{ email: 'x@example.com', role: 'viewer', phone: '+0123456789' }, 'phone'],
    [{ email: 'x@example.com', role: 'viewer', slack: { team_id: 'bad', user_id: 'U0123ABCD' } }, 'slack.team_id'],
    [{ email: 'x@example.com', role: 'viewer', slack: { team_id: 'T0123ABCD', user_id: 'u-lower' } }, 'slack.user_id'],
    [{ email: 'x@example.com', role: 'viewer', slack: { team_id: 'T0123ABCD' } }, 'slack.user_id'],
    [{ email: 'x@example.com', role: 'viewer', telegram: { user_id: -5 } }, 'telegram.user_id'],
    [{ email: 'x@example.com', role: 'viewer', telegram: { user_id: 'abc' } }, 'telegram.user_id'],
    [{ email: 'x@example.com', role: 'viewer', telegram: { user_id: '-5' } }, 'telegram.user_id'],
    [{ email: 'x@example.com', role: 'viewer', nickname: 'x' }, 'nickname'],
  ])('refuses %j with 400 invalid_request naming %s, and creates nothing', async (body, field) => {
    const ws = await t.workspace();
    const before = await members(ws);
    const res = await add(ws, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain(field);
    expect(res.body.error.fields).toContainEqual(expect.objectContaining({ field }));
    expect(await members(ws)).toEqual(before);
  });
});

describe('identities are unique per workspace (409 identity_taken)', () => {
  const slack = { team_id: 'T0DUPTEAM', user_id: 'U0DUPUSER' };
  it.each([
    ['email, case-insensitively', { email: 'Foo@x.com' }, { email: 'foo@x.com' }],
    ['phone', { phone: '+447700900123' }, { phone: '+447700900123' }],
    ['Slack identity', { slack }, { slack }],
    ['Telegram identity (number vs digit string)', { telegram: { user_id: 4242 } }, { telegram: { user_id: '4242' } }],
  ])('duplicate %s is refused, and creates nothing; another workspace may use it', async (_, first, second) => {
    const ws = await t.workspace();
    const other = await t.workspace();
    expect((await add(ws, { email: email(), role: 'viewer', ...first })).status).toBe(201);
    const before = await members(ws);
    const dup = await add(ws, { email: email(), role: 'approver', ...second });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('identity_taken');
    expect(await members(ws)).toEqual(before);
    expect((await add(other, { email: email(), role: 'viewer', ...first })).status).toBe(201);
    expect((await add(other, { email: email(), role: 'viewer', ...second })).status).toBe(409);
  });
});

describe('roles and keys', () => {
  it('approver, viewer and agent keys get 403 on every write; nothing changes', async () => {
    const ws = await t.workspace();
    const approver = await ws.member('approver');
    const viewer = await ws.member('viewer');
    const agent = await ws.agent('bot');
    const before = await members(ws);
    for (const key of [approver.key, viewer.key, agent.key]) {
      for (const [method, url, body] of [
        ['POST', '/v1/members', { email: email(), role: 'owner' }],
        ['PATCH', `/v1/members/${viewer.id}`, { role: 'owner' }],
        ['DELETE', `/v1/members/${ws.ownerId}`, undefined],
      ] as const) {
        const res = await t.call(method, url, { key, body });
        expect(res.status, `${method} ${url}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
    expect(await members(ws)).toEqual(before);
  });

  it('every member role reads the list, one member and itself', async () => {
    const ws = await t.workspace();
    const approver = await ws.member('approver');
    const viewer = await ws.member('viewer');
    for (const m of [{ id: ws.ownerId, key: ws.ownerKey }, approver, viewer]) {
      const list = await t.call('GET', '/v1/members', { key: m.key });
      expect(list.status).toBe(200);
      expect(list.body.data.map((x: any) => x.id)).toEqual([ws.ownerId, approver.id, viewer.id]);
      expect((await t.call('GET', `/v1/members/${ws.ownerId}`, { key: m.key })).body.id).toBe(ws.ownerId);
      expect((await t.call('GET', '/v1/members/me', { key: m.key })).body.id).toBe(m.id);
    }
  });

  it('agent keys get 403 on member reads; no key or a bad key gets 401', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('reader');
    for (const url of ['/v1/members', '/v1/members/me', `/v1/members/${ws.ownerId}`]) {
      expect((await t.call('GET', url, { key: agent.key })).status, url).toBe(403);
      const anon = await t.call('GET', url);
      expect(anon.status, url).toBe(401);
      expect(anon.body.error.code).toBe('unauthorized');
      expect((await t.call('GET', url, { key: 'lsh_m_' + 'x'.repeat(44) })).status, url).toBe(401);
    }
  });
});

describe('member ids', () => {
  it('another workspace’s member is 404 on GET, PATCH and DELETE, and is left alone', async () => {
    const a = await t.workspace();
    const b = await t.workspace();
    const theirs = await b.member('viewer');
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { role: 'owner' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.call(method, `/v1/members/${theirs.id}`, { key: a.ownerKey, body });
      expect(res.status, method).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const still = await t.call('GET', '/v1/members/me', { key: theirs.key });
    expect(still.body).toMatchObject({ id: theirs.id, role: 'viewer' });
  });

  it('a malformed id is 400 naming path.id', async () => {
    const ws = await t.workspace();
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { role: 'viewer' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.call(method, '/v1/members/not-a-uuid', { key: ws.ownerKey, body });
      expect(res.status, method).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.fields).toContainEqual(expect.objectContaining({ field: 'path.id' }));
    }
  });
});

describe('PATCH /v1/members/{id}', () => {
  it('changes the role, and null unlinks phone, Slack and Telegram', async () => {
    const ws = await t.workspace();
    const ids = { phone: '+15550001111', slack: { team_id: 'T0AAA', user_id: 'U0AAA' }, telegram: { user_id: 77 } };
    const m = await ws.member('viewer', ids);
    const promoted = await t.call('PATCH', `/v1/members/${m.id}`, { key: ws.ownerKey, body: { role: 'approver' } });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toMatchObject({
      id: m.id,
      role: 'approver',
      phone: '+15550001111',
      telegram: { user_id: '77' },
    });
    const res = await t.call('PATCH', `/v1/members/${m.id}`, {
      key: ws.ownerKey,
      body: { phone: null, slack: null, telegram: null },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'approver', phone: null, slack: null, telegram: null });
    expect((await t.call('GET', '/v1/members/me', { key: m.key })).body).toEqual(res.body);
    // The unlinked identities are free again.
    expect((await ws.member('viewer', ids)).id).not.toBe(m.id);
  });

  it('changing to an identity another member holds is 409 identity_taken, and nothing changes', async () => {
    const ws = await t.workspace();
    const holder = await ws.member('viewer', {
      phone: '+15552223333',
      slack: { team_id: 'T0BBB', user_id: 'U0BBB' },
      telegram: { user_id: 88 },
    });
    const m = await ws.member('viewer');
    const holderEmail = (await t.call('GET', '/v1/members/me', { key: holder.key })).body.email;
    const before = await t.call('GET', `/v1/members/${m.id}`, { key: ws.ownerKey });
    for (const body of [
      { email: holderEmail.toUpperCase() },
      { phone: '+15552223333' },
      { slack: { team_id: 'T0BBB', user_id: 'U0BBB' } },
      { telegram: { user_id: '88' } },
      { role: 'owner', phone: '+15552223333' },
    ]) {
      const res = await t.call('PATCH', `/v1/members/${m.id}`, { key: ws.ownerKey, body });
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.body.error.code).toBe('identity_taken');
    }
    expect((await t.call('GET', `/v1/members/${m.id}`, { key: ws.ownerKey })).body).toEqual(before.body);
  });

  it('an empty body is 200 with the member unchanged', async () => {
    const ws = await t.workspace();
    const m = await ws.member('approver', { phone: '+15554445555' });
    const before = await t.call('GET', `/v1/members/${m.id}`, { key: ws.ownerKey });
    const res = await t.call('PATCH', `/v1/members/${m.id}`, { key: ws.ownerKey, body: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before.body);
  });
});

describe('the last owner', () => {
  it('cannot be demoted or deleted (409 last_owner), and stays owner', async () => {
    const ws = await t.workspace();
    await ws.member('approver');
    for (const [method, body] of [
      ['PATCH', { role: 'approver' }],
      ['PATCH', { role: 'viewer', display_name: 'X' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.call(method, `/v1/members/${ws.ownerId}`, { key: ws.ownerKey, body });
      expect(res.status, method).toBe(409);
      expect(res.body.error.code).toBe('last_owner');
    }
    const me = await t.call('GET', '/v1/members/me', { key: ws.ownerKey });
    expect(me.body).toMatchObject({ role: 'owner', display_name: null });
  });

  it('with two owners one may be demoted, and then the other is the last owner', async () => {
    const ws = await t.workspace();
    const second = await ws.member('owner');
    const res = await t.call('PATCH', `/v1/members/${second.id}`, { key: ws.ownerKey, body: { role: 'viewer' } });
    expect(res.status).toBe(200);
    expect(res.body.role).toBe('viewer');
    const self = await t.call('PATCH', `/v1/members/${ws.ownerId}`, { key: ws.ownerKey, body: { role: 'viewer' } });
    expect(self.body.error.code).toBe('last_owner');
  });

  it('two owners demoting each other at once: exactly one succeeds and an owner remains', async () => {
    for (let round = 0; round < 10; round++) {
      const ws = await t.workspace();
      const b = await ws.member('owner');
      const [ab, ba] = await Promise.all([
        t.call('PATCH', `/v1/members/${b.id}`, { key: ws.ownerKey, body: { role: 'approver' } }),
        t.call('PATCH', `/v1/members/${ws.ownerId}`, { key: b.key, body: { role: 'approver' } }),
      ]);
      // The loser is refused either inside the transaction (409 last_owner) or, if the winner's
      // demotion committed before the loser's key was checked, as a non-owner (403 forbidden).
      const [won, lost] = ab.status === 200 ? [ab, ba] : [ba, ab];
      expect(won.status).toBe(200);
      expect([`409 last_owner`, `403 forbidden`]).toContain(`${lost.status} ${lost.body.error?.code}`);
      const owners = (await members(ws)).filter((m) => m.role === 'owner');
      expect(owners).toHaveLength(1);
    }
  });
});

describe('DELETE /v1/members/{id}', () => {
  it('204, then the member’s key is 401 and the member is 404', async () => {
    const ws = await t.workspace();
    const m = await ws.member('approver');
    const del = await t.call('DELETE', `/v1/members/${m.id}`, { key: ws.ownerKey });
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expect((await t.call('GET', '/v1/members/me', { key: m.key })).status).toBe(401);
    const got = await t.call('GET', `/v1/members/${m.id}`, { key: ws.ownerKey });
    expect(got.status).toBe(404);
    expect(got.body.error.code).toBe('not_found');
    expect((await members(ws)).map((x) => x.id)).toEqual([ws.ownerId]);
    expect((await t.call('DELETE', `/v1/members/${m.id}`, { key: ws.ownerKey })).status).toBe(404);
  });

  it('an owner may be deleted while another owner remains', async () => {
    const ws = await t.workspace();
    const second = await ws.member('owner');
    expect((await t.call('DELETE', `/v1/members/${ws.ownerId}`, { key: second.key })).status).toBe(204);
    expect((await members({ ...ws, ownerKey: second.key })).map((x) => x.id)).toEqual([second.id]);
  });
});

describe('Idempotency-Key on POST /v1/members', () => {
  it('a replay returns the same body (same api_key) and creates one member', async () => {
    const ws = await t.workspace();
    const body = { email: email(), role: 'viewer' };
    const headers = { 'idempotency-key': 'add-viewer-1' };
    const first = await add(ws, body, headers);
    const second = await add(ws, body, headers);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(first.headers['idempotent-replayed']).toBe('false');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await members(ws)).toHaveLength(2);
  });

  it('the same key with a different body is 409 idempotency_key_reused and creates nothing', async () => {
    const ws = await t.workspace();
    const headers = { 'idempotency-key': 'add-2' };
    expect((await add(ws, { email: email(), role: 'viewer' }, headers)).status).toBe(201);
    const res = await add(ws, { email: email(), role: 'viewer' }, headers);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect(await members(ws)).toHaveLength(2);
  });
});

describe('GET /v1/members pagination', () => {
  it('limit + cursor visit every member exactly once, in creation order', async () => {
    const ws = await t.workspace();
    const ids = [ws.ownerId];
    for (let i = 0; i < 6; i++) ids.push((await ws.member('viewer')).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await t.call('GET', `/v1/members?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
        key: ws.ownerKey,
      });
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.data.map((m: any) => m.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });
});

describe('activity', () => {
  it('add, update and remove each write a workspace activity row with no agent', async () => {
    const ws = await t.workspace();
    const before = (await activity(ws)).length;
    const m = await ws.member('viewer');
    await t.call('PATCH', `/v1/members/${m.id}`, { key: ws.ownerKey, body: { role: 'approver' } });
    await t.call('DELETE', `/v1/members/${m.id}`, { key: ws.ownerKey });
    const rows = (await activity(ws)).slice(before);
    expect(rows.map((r) => r.action)).toEqual(['member.added', 'member.updated', 'member.removed']);
    for (const r of rows) {
      expect(r.agent_id).toBeNull();
      expect(r.channel).toBe('api');
      expect(r.actor).toMatchObject({ type: 'member', id: ws.ownerId });
      expect(r.details).toMatchObject({ member_id: m.id });
    }
    expect(rows[0]!.details).toMatchObject({ role: 'viewer' });
    expect(rows[1]!.details).toMatchObject({ fields: ['role'] });
  });

  it('refused writes leave no activity', async () => {
    const ws = await t.workspace();
    const before = (await activity(ws)).length;
    await add(ws, { email: 'bad', role: 'viewer' });
    await t.call('PATCH', `/v1/members/${ws.ownerId}`, { key: ws.ownerKey, body: { role: 'viewer' } });
    await t.call('DELETE', `/v1/members/${ws.ownerId}`, { key: ws.ownerKey });
    expect(await activity(ws)).toHaveLength(before);
  });
});
