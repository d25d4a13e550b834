// The dashboard's rules without a browser: sign-in (key and emailed link), cookies, CSRF, and the
// same role checks as the API. The browser flows are in dashboard.e2e.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { dashboardBrowser, target } from './support/dashboard-browser.js';
import { startSmtp } from './support/smtp.js';

const smtp = await startSmtp();
afterAll(() => smtp.close());
const t = useTestApp({
  SMTP_URL: smtp.url,
  EMAIL_FROM: 'leash@example.test',
  PUBLIC_URL: 'https://leash.example.test',
});
const { browser, signedIn } = dashboardBrowser(t);

describe('transport', () => {
  it('with an https PUBLIC_URL every answer carries HSTS (pages and the API alike)', async () => {
    for (const url of ['/login', '/healthz', '/v1/agents']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect([url, res.headers['strict-transport-security']]).toEqual([url, 'max-age=31536000']);
    }
  });
});

describe('sign-in', () => {
  it('sends strangers to /login; a member key signs in with a secure, httpOnly, SameSite=Lax cookie; sign-out ends it', async () => {
    const ws = await t.workspace();
    const b = browser();
    expect((await b.get('/')).location).toBe('/login');
    const login = await b.get('/login');
    const res = await b.post('/login', { _csrf: login.csrf!, key: ws.ownerKey });
    const set = [res.headers['set-cookie']].flat().find((c) => String(c).startsWith('leash_session='))!;
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).toMatch(/Secure/);
    const home = await b.get('/');
    expect(home.status).toBe(200);
    expect(home.headers['content-security-policy']).toContain("script-src 'self'");
    const out = await b.post('/logout', { _csrf: home.csrf! });
    expect(out.location).toBe('/login');
    expect((await b.get('/')).location).toBe('/login');
  });

  it('refuses an agent key or a wrong key (401), and a form without its CSRF token (403)', async () => {
    const ws = await t.workspace();
    const agent = await ws.agent('bob');
    const b = browser();
    const login = await b.get('/login');
    expect((await b.post('/login', { _csrf: login.csrf!, key: agent.key })).status).toBe(401);
    expect((await b.post('/login', { _csrf: login.csrf!, key: 'lsh_m_nope' })).status).toBe(401);
    expect((await b.post('/login', { key: ws.ownerKey })).status).toBe(403);
    expect(b.jar.has('leash_session')).toBe(false);
  });

  it('an emailed link signs in once, after a confirming click; an unknown address gets the same answer and no email', async () => {
    const ws = await t.workspace();
    const owner = await t.deps.db
      .selectFrom('members')
      .select('email')
      .where('id', '=', ws.ownerId)
      .executeTakeFirstOrThrow();
    const b = browser();
    const login = await b.get('/login');
    expect(login.html).toContain('Email me a link');
    const sent = await b.post('/login/email', { _csrf: login.csrf!, email: owner.email.toUpperCase() });
    expect(target(sent.location)).toContain('If that address belongs to a member, a sign-in link is on its way.');
    // A second request within the minute sends nothing more.
    await b.post('/login/email', { _csrf: login.csrf!, email: owner.email });
    // Sent to the address on file, not the one typed.
    await expect.poll(() => smtp.mails.filter((m) => m.to.includes(owner.email)).length).toBe(1);
    const mail = smtp.mails.find((m) => m.text.includes('/login/'))!;
    const path = new URL(/https:\/\/\S+\/login\/\S+/.exec(mail.text)![0]).pathname;
    const confirm = await b.get(path);
    expect(b.jar.has('leash_session')).toBe(false);
    expect((await b.post(path, { _csrf: confirm.csrf! })).location).toBe('/');
    expect((await b.get('/')).status).toBe(200);
    const other = browser();
    const again = await other.get(path);
    expect((await other.post(path, { _csrf: again.csrf! })).status).toBe(401);

    const before = smtp.mails.length;
    const nobody = await other.post('/login/email', { _csrf: again.csrf!, email: 'nobody@example.com' });
    expect(target(nobody.location)).toContain('If that address belongs to a member');
    await new Promise((r) => setTimeout(r, 200));
    expect(smtp.mails.length).toBe(before);
  });
});

describe('members', () => {
  it('the members page says which identities are only an owner’s claim, not confirmed by their holder', async () => {
    const ws = await t.workspace();
    const m = await ws.member('approver', { phone: '+15550177001', telegram: { user_id: 424242 } });
    await t.deps.db.updateTable('members').set({ telegram_confirmed_at: new Date() }).where('id', '=', m.id).execute();
    const page = await (await signedIn(ws.ownerKey)).get('/members');
    const row = page.html.split('<tr>').find((r) => r.includes('+15550177001'))!;
    expect(row).toMatch(/\+15550177001<div class="muted" data-unconfirmed>not confirmed yet<\/div>/);
    expect(row).toMatch(/<td>424242<\/td>/);
  });
});

describe('actions', () => {
  it('an owner pauses from the dashboard: the same core action, on the timeline as dashboard', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const b = await signedIn(ws.ownerKey);
    const home = await b.get('/');
    const res = await b.post(`/agents/${bob.id}/pause`, { _csrf: home.csrf!, mode: 'full', reason: 'audit' });
    expect(target(res.location)).toBe('/?notice=Paused bob (full).');
    const activity = await t.call('GET', `/v1/agents/${bob.id}/activity`, { key: ws.ownerKey });
    expect(activity.body.data[0]).toMatchObject({
      action: 'agent.paused',
      channel: 'dashboard',
      details: { mode: 'full', reason: 'audit' },
    });
    // A refusal comes back as an error notice on the page.
    const again = await b.post(`/agents/${bob.id}/pause`, { _csrf: home.csrf!, mode: 'full' });
    expect(target(again.location)).toBe('/?error=bob is already paused (full)');
    expect((await b.get(again.location!)).html).toContain('bob is already paused (full)');
    // A mode that is neither send nor full is refused, not guessed.
    const odd = await b.post(`/agents/${bob.id}/unpause`, { _csrf: home.csrf! });
    expect(target(odd.location)).toBe('/?notice=Unpaused bob.');
    const bad = await b.post(`/agents/${bob.id}/pause`, { _csrf: home.csrf!, mode: 'partial' });
    expect(target(bad.location)).toBe('/?error=mode: must be send or full');
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.pause).toBeNull();
    // Words without our signature are not shown (no one can put text on our pages with a link).
    expect((await b.get('/?notice=Email%20your%20key%20to%20evil%40example.com')).html).not.toContain(
      'evil@example.com',
    );
    expect((await b.get('/login?notice=Email%20your%20key%20to%20evil%40example.com')).html).not.toContain(
      'evil@example.com',
    );
  });

  it('a viewer sees no buttons, and a forged action is refused by the core; nothing changes', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const viewer = await ws.member('viewer');
    const b = await signedIn(viewer.key);
    const home = await b.get('/');
    expect(home.html).toContain('bob');
    expect(home.html).not.toContain('Pause full');
    const res = await b.post(`/agents/${bob.id}/pause`, { _csrf: home.csrf!, mode: 'full' });
    expect(target(res.location)).toBe('/?error=This needs the owner role; you are viewer');
    // Webhook endpoints (URLs often hold tokens) are for owners, as in the API.
    expect(home.html).not.toContain('href="/webhooks"');
    expect((await b.get('/webhooks')).status).toBe(403);
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.pause).toBeNull();
    // And for an owner, another workspace's agent does not exist.
    const owner = await signedIn(ws.ownerKey);
    const ownerHome = await owner.get('/');
    const other = await (await t.workspace()).agent('eve');
    const cross = await owner.post(`/agents/${other.id}/pause`, { _csrf: ownerHome.csrf!, mode: 'full' });
    expect(target(cross.location)).toBe(`/?error=Agent ${other.id} not found`);
    // From an agent's page, an action comes back to that page.
    const page = await owner.get(`/agents/${bob.id}`);
    const fromPage = await owner.post(`/agents/${bob.id}/unpause`, { _csrf: page.csrf!, back: 'agent' });
    expect(target(fromPage.location)).toBe(`/agents/${bob.id}?error=bob is not paused`);
    expect(
      (await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', other.id).executeTakeFirstOrThrow())
        .pause_mode,
    ).toBeNull();
  });

  it('sessions are paused, resumed and cancelled from the agent page, which the action returns to', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const session = await t.call('POST', '/v1/sessions', { key: bob.key, body: { task: 'reconcile' } });
    const b = await signedIn(ws.ownerKey);
    const page = await b.get(`/agents/${bob.id}`);
    expect(page.html).toContain('reconcile');
    const paused = await b.post(`/sessions/${session.body.id}/pause`, { _csrf: page.csrf! });
    expect(target(paused.location)).toBe(`/agents/${bob.id}?notice=Session paused.`);
    expect(target((await b.post(`/sessions/${session.body.id}/pause`, { _csrf: page.csrf! })).location)).toMatch(
      new RegExp(`^/agents/${bob.id}\\?error=`),
    );
    expect(target((await b.post(`/sessions/${session.body.id}/resume`, { _csrf: page.csrf! })).location)).toBe(
      `/agents/${bob.id}?notice=Session resumed.`,
    );
    expect(target((await b.post(`/sessions/${session.body.id}/cancel`, { _csrf: page.csrf! })).location)).toBe(
      `/agents/${bob.id}?notice=Session cancelled.`,
    );
    expect((await t.call('GET', `/v1/sessions/${session.body.id}`, { key: ws.ownerKey })).body.status).toBe(
      'cancelled',
    );
    // An id that is not a session of this workspace goes back to the agents page, refused.
    expect(target((await b.post('/sessions/not-a-uuid/pause', { _csrf: page.csrf! })).location)).toBe(
      '/?error=Session not-a-uuid not found',
    );
    expect(target((await b.post('/approvals/not-a-uuid/respond', { _csrf: page.csrf!, choice: 'x' })).location)).toBe(
      '/approvals?error=Approval not-a-uuid not found',
    );
  });

  it('a question naming approvers: an owner it does not name is refused on the approvals page, a listed one decides', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const listed = await ws.member('approver');
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'x@example.com',
        channel: 'web',
        message: 'Go?',
        options: ['Yes', 'No'],
        approvers: [listed.id],
      },
    });
    const owner = await signedIn(ws.ownerKey);
    const page = await owner.get('/approvals');
    const refused = await owner.post(`/approvals/${a.body.pause_id}/respond`, { _csrf: page.csrf!, choice: 'Yes' });
    expect(target(refused.location)).toBe('/approvals?error=Only the approvers this question names may decide it');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe('pending');
    const them = await signedIn(listed.key);
    const theirs = await them.get('/approvals');
    await them.post(`/approvals/${a.body.pause_id}/respond`, { _csrf: theirs.csrf!, choice: 'Yes' });
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body).toMatchObject({
      status: 'responded',
      responder: { member_id: listed.id },
    });
  });

  it('a quorum of 2 on the approvals page: "1 of 2 approvals" with who voted, the same member twice refused', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const other = await ws.member('approver');
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'x@example.com',
        channel: 'web',
        message: 'Go?',
        options: ['Yes', 'No'],
        approvals_required: 2,
      },
    });
    const owner = await signedIn(ws.ownerKey);
    const page = await owner.get('/approvals');
    expect(page.html).toContain('0 of 2 approvals for Yes');
    const voted = await owner.post(`/approvals/${a.body.pause_id}/respond`, { _csrf: page.csrf!, choice: 'Yes' });
    expect(target(voted.location)).toBe('/approvals?notice=Vote recorded: 1 of 2 approvals.');
    const after = await owner.get('/approvals');
    expect(after.html).toContain('1 of 2 approvals for Yes');
    expect(after.html).toMatch(/@example\.com \(Yes\)/);
    const twice = await owner.post(`/approvals/${a.body.pause_id}/respond`, { _csrf: after.csrf!, choice: 'No' });
    expect(target(twice.location)).toBe('/approvals?error=You already voted on this question (Yes)');
    const them = await signedIn(other.key);
    const theirs = await them.get('/approvals');
    await them.post(`/approvals/${a.body.pause_id}/respond`, { _csrf: theirs.csrf!, choice: 'Yes' });
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe('responded');
  });

  it('without a session an action goes to /login and changes nothing', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const b = browser();
    const login = await b.get('/login');
    const res = await b.post(`/agents/${bob.id}/pause`, { _csrf: login.csrf!, mode: 'full' });
    expect(res.location).toBe('/login');
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.pause).toBeNull();
  });
});
