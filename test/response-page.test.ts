import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signLink } from '../src/approvals/links.js';
import { loggedServer, timelineCount, useTestApp, type Workspace } from './support/app.js';

const t = useTestApp();
const FORM = 'application/x-www-form-urlencoded';

const ASK = {
  recipient: 'alice@example.com',
  channel: 'web',
  message: 'Send $340 to Acme?',
  options: ['Approve', 'Reject'],
  timeout_seconds: 60,
  metadata: { amount: 340, vendor: 'Acme <b>' },
};

/** A workspace, an agent with a display name, and one approval it asked for on the web channel. */
async function ask(extra: Record<string, unknown> = {}, ws?: Workspace) {
  ws ??= await t.workspace();
  const agent = await ws.agent('payments', { display_name: 'Payments Bot' });
  const res = await t.call('POST', '/v1/pause', { key: agent.key, body: { ...ASK, ...extra } });
  expect(res.status).toBe(201);
  const path = new URL(res.body.url).pathname;
  expect(path).toMatch(/^\/r\/[A-Za-z0-9_.-]+$/);
  return { ws, agent, id: res.body.pause_id as string, path, token: path.slice(3) };
}

/** GET the page; returns its HTML, the form's CSRF token and the `_csrf` cookie to send back. */
async function open(path: string, cookie?: string) {
  const res = await t.app.inject({ method: 'GET', url: path, headers: cookie ? { cookie } : {} });
  const setCookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('_csrf='));
  return {
    status: res.statusCode,
    headers: res.headers,
    html: res.body,
    csrf: /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1],
    cookie: setCookie ? setCookie.split(';')[0]! : cookie,
  };
}

async function submit(path: string, fields: Record<string, string>, cookie?: string) {
  return t.call('POST', path, {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': FORM, ...(cookie ? { cookie } : {}) },
  });
}

/** Open the page and answer it, as a browser would. */
async function answer(path: string, fields: Record<string, string>) {
  const page = await open(path);
  return submit(path, { _csrf: page.csrf!, ...fields }, page.cookie);
}

async function approval(ws: Workspace, id: string) {
  return (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body;
}

const buttons = (html: string) => html.match(/<button type="submit"/g)?.length ?? 0;

describe('GET /r/{token}', () => {
  it('shows the question, who asks, the metadata and one button per option, with strict headers', async () => {
    const { ws, id, path } = await ask();
    const page = await open(path);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.html).toContain('Send $340 to Acme?');
    expect(page.html).toContain('Asked by Payments Bot');
    expect(page.html).toMatch(/<dt>amount<\/dt><dd>340<\/dd>/);
    expect(page.html).toMatch(/<dt>vendor<\/dt><dd>Acme &lt;b&gt;<\/dd>/);
    expect(page.html).not.toContain('Acme <b>');
    expect(buttons(page.html)).toBe(2);
    expect(page.html).toMatch(/<button type="submit" name="choice" value="Approve"[^>]*>Approve<\/button>/);
    expect(page.html).toMatch(/<button type="submit" name="choice" value="Reject"[^>]*>Reject<\/button>/);
    expect(page.csrf).toBeTruthy();
    expect(page.cookie).toMatch(/^_csrf=/);
    const setCookie = [page.headers['set-cookie'] ?? []].flat().join('\n');
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(page.html).not.toContain('<textarea');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    // GET never decides (mail scanners prefetch links).
    expect(await approval(ws, id)).toMatchObject({ status: 'pending', response_choice: null, responder: null });
  });

  it('escapes markup in the message, option labels and metadata; offers a note field when text is allowed', async () => {
    const { path } = await ask({
      message: 'Pay <script>alert(1)</script> now?',
      options: ['<b>Yes</b>', 'No'],
      metadata: { '<i>key</i>': '<script>x()</script>' },
      allow_text_response: true,
    });
    const { html } = await open(path);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>Yes');
    expect(html).not.toContain('<i>key');
    expect(html).toContain('Pay &lt;script&gt;alert(1)&lt;/script&gt; now?');
    expect(html).toContain('value="&lt;b&gt;Yes&lt;/b&gt;"');
    expect(html).toContain('<dt>&lt;i&gt;key&lt;/i&gt;</dt><dd>&lt;script&gt;x()&lt;/script&gt;</dd>');
    expect(html).toMatch(/<textarea[^>]*name="text"/);
  });

  it('a pre-selected link asks to confirm that option and does not decide', async () => {
    const { ws, id } = await ask();
    const page = await open(`/r/${signLink(t.config.secret, { approvalId: id, choice: 1 })}`);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(
      /<button type="submit" name="choice" value="Reject" class="primary">Confirm: Reject<\/button>/,
    );
    expect(page.html).toMatch(/value="Approve"[^>]*>Approve</);
    expect((await approval(ws, id)).status).toBe('pending');
  });

  it('past its deadline the page settles the timeout and offers no buttons', async () => {
    const { ws, id, path } = await ask({ timeout_seconds: 1, timeout_default: 'Reject' });
    await new Promise((r) => setTimeout(r, 1200));
    const page = await open(path);
    expect(page.status).toBe(200);
    expect(page.html).toContain('timed out');
    expect(page.html).toContain('<strong>Reject</strong>');
    expect(buttons(page.html)).toBe(0);
    expect(page.html).not.toContain('<form');
    expect(await approval(ws, id)).toMatchObject({ status: 'timed_out', via_timeout: true, response_choice: 'Reject' });
  });

  it('a cancelled approval shows as cancelled with no buttons, and a late POST is 409', async () => {
    const { ws, agent, path, id } = await ask();
    const early = await open(path);
    expect((await t.call('POST', `/v1/pause/${id}/cancel`, { key: agent.key })).status).toBe(200);
    const page = await open(path);
    expect(page.status).toBe(200);
    expect(page.html).toContain('This request was cancelled');
    expect(buttons(page.html)).toBe(0);
    const late = await submit(path, { _csrf: early.csrf!, choice: 'Approve' }, early.cookie);
    expect(late.status).toBe(409);
    expect(late.body).toContain('Already cancelled');
    expect((await approval(ws, id)).status).toBe('cancelled');
  });
});

describe('links that are not genuine', () => {
  it.each([
    ['a flipped MAC character', (tok: string) => tok.slice(0, -2) + (tok.at(-2) === 'A' ? 'B' : 'A') + tok.at(-1)],
    ['a truncated token', (tok: string) => tok.slice(0, -3)],
    ['another secret', (_: string, id: string) => signLink('other', { approvalId: id })],
    ['another approval id', () => signLink(t.config.secret, { approvalId: randomUUID() })],
    ['garbage', () => 'not-a-token'],
    ['a 100-character garbage token', () => 'x'.repeat(100)],
  ])('%s → 404 "Link not valid", on GET and POST; nothing changes', async (_name, forge) => {
    const { ws, agent, id, path, token } = await ask();
    const before = await timelineCount(t, agent.id);
    const bad = `/r/${forge(token, id)}`;
    const got = await open(bad);
    expect(got.status).toBe(404);
    expect(got.headers['content-type']).toMatch(/^text\/html/);
    expect(got.html).toContain('Link not valid');
    expect(got.html).not.toContain('Send $340');
    const genuine = await open(path); // a valid CSRF pair, so only the link can be at fault
    const posted = await submit(bad, { _csrf: genuine.csrf!, choice: 'Approve' }, genuine.cookie);
    expect(posted.status).toBe(404);
    expect(posted.body).toContain('Link not valid');
    expect((await approval(ws, id)).status).toBe('pending');
    expect(await timelineCount(t, agent.id)).toBe(before);
  });

  it('an over-long garbage token also gets the "Link not valid" page', async () => {
    // Past the router's parameter limit: the frameworkErrors handler must still render the page.
    const got = await open(`/r/${'x'.repeat(150)}`);
    expect(got.status).toBe(404);
    expect(got.html).toContain('Link not valid');
    expect(got.headers['cache-control']).toBe('no-store');
  });
});

describe('POST /r/{token}', () => {
  it('decides with the CSRF token, redirects back, and the page then shows the outcome', async () => {
    await (await t.workspace('Elsewhere')).member('approver', { email: 'alice@example.com' }); // not this workspace's member
    const { ws, agent, id, path } = await ask();
    const res = await answer(path, { choice: 'Approve' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(path);
    const decided = await approval(ws, id);
    expect(decided).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      response_text: null,
      via_timeout: false,
    });
    expect(decided.responder).toEqual({ channel: 'web', display: 'link sent to alice@example.com' });
    const after = await open(path);
    expect(after.status).toBe(200);
    expect(after.html).toContain('<strong>Approve</strong> — answered by link sent to alice@example.com');
    expect(after.html).toContain('via web');
    expect(buttons(after.html)).toBe(0);
    expect(after.html).not.toContain('<form');
    const timeline = await t.call('GET', `/v1/agents/${agent.id}/activity`, { key: ws.ownerKey });
    expect(timeline.status).toBe(200);
    expect(timeline.body.data).toContainEqual(
      expect.objectContaining({
        action: 'approval.responded',
        channel: 'web',
        details: expect.objectContaining({ pause_id: id, choice: 'Approve' }),
      }),
    );
  });

  it.each(['email', 'member id'])(
    'credits the link, never a member account, even when the recipient (%s) names a member',
    async (by) => {
      const ws = await t.workspace();
      const alice = await ws.member('approver', { email: 'Alice@Example.com', display_name: 'Alice' });
      const recipient = by === 'email' ? 'alice@example.com' : alice.id;
      const { id, path } = await ask({ recipient }, ws);
      expect((await answer(path, { choice: 'Reject' })).status).toBe(303);
      // Anyone holding the link could have clicked: it proves nobody's identity. A member id is
      // shown as the member's name, still as the link's addressee, with no member_id.
      const addressee = by === 'email' ? recipient : 'Alice';
      expect((await approval(ws, id)).responder).toEqual({ channel: 'web', display: `link sent to ${addressee}` });
    },
  );

  it('a NUL in the note is refused with a 400 page, not a 500; nothing changes', async () => {
    const ws = await t.workspace();
    const { id, path } = await ask({ allow_text_response: true }, ws);
    const page = await open(path);
    const res = await submit(path, { _csrf: page.csrf!, choice: 'Approve', text: 'hi\u0000there' }, page.cookie);
    expect(res.status).toBe(400);
    expect((await approval(ws, id)).status).toBe('pending');
  });

  it('a reused link gets 409 "already decided by …" and the decision stands', async () => {
    const { ws, agent, id, path } = await ask();
    const page = await open(path);
    expect((await submit(path, { _csrf: page.csrf!, choice: 'Approve' }, page.cookie)).status).toBe(303);
    const before = await timelineCount(t, agent.id);
    const again = await submit(path, { _csrf: page.csrf!, choice: 'Reject' }, page.cookie);
    expect(again.status).toBe(409);
    expect(again.body).toContain('Already decided by link sent to alice@example.com: Approve');
    expect(buttons(again.body)).toBe(0);
    expect(await approval(ws, id)).toMatchObject({ status: 'responded', response_choice: 'Approve' });
    expect(await timelineCount(t, agent.id)).toBe(before);
  });

  it('after a decision through the API the page answers 409 naming who decided', async () => {
    const ws = await t.workspace();
    const { id, path } = await ask({}, ws);
    const page = await open(path);
    const api = await t.call('POST', `/v1/pause/${id}/respond`, { key: ws.ownerKey, body: { choice: 'Reject' } });
    expect(api.status).toBe(200);
    const late = await submit(path, { _csrf: page.csrf!, choice: 'Approve' }, page.cookie);
    expect(late.status).toBe(409);
    expect(late.body).toMatch(/Already decided by owner-[0-9a-f]+@example\.com: Reject/);
    expect(await approval(ws, id)).toMatchObject({
      status: 'responded',
      response_choice: 'Reject',
      responder: { channel: 'api' },
    });
  });

  it.each([
    ['no _csrf field', (p: { csrf: string; cookie: string }) => ({ fields: { choice: 'Approve' }, cookie: p.cookie })],
    [
      'a wrong _csrf',
      (p: { csrf: string; cookie: string }) => ({
        fields: { _csrf: (p.csrf[0] === 'x' ? 'y' : 'x') + p.csrf.slice(1), choice: 'Approve' },
        cookie: p.cookie,
      }),
    ],
    [
      'no cookie',
      (p: { csrf: string; cookie: string }) => ({ fields: { _csrf: p.csrf, choice: 'Approve' }, cookie: undefined }),
    ],
  ])('%s → 403 HTML page; nothing changes', async (_name, make) => {
    const { ws, agent, id, path } = await ask();
    const before = await timelineCount(t, agent.id);
    const page = await open(path);
    const { fields, cookie } = make({ csrf: page.csrf!, cookie: page.cookie! });
    const res = await submit(path, fields, cookie);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<!doctype html>');
    expect((await approval(ws, id)).status).toBe('pending');
    expect(await timelineCount(t, agent.id)).toBe(before);
  });

  it('a choice not among the options → 400 page; still pending', async () => {
    const { ws, agent, id, path } = await ask();
    const before = await timelineCount(t, agent.id);
    for (const choice of ['Maybe', 'approve']) {
      const res = await answer(path, { choice });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('Choose one of the options');
      expect(buttons(res.body)).toBe(2);
    }
    expect((await answer(path, {})).status).toBe(400);
    expect((await approval(ws, id)).status).toBe('pending');
    expect(await timelineCount(t, agent.id)).toBe(before);
  });

  it('stores the note as response_text when text is allowed, and shows it', async () => {
    const { ws, id, path } = await ask({ allow_text_response: true });
    expect((await answer(path, { choice: 'Approve', text: 'Paid from <ops> budget' })).status).toBe(303);
    expect(await approval(ws, id)).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      response_text: 'Paid from <ops> budget',
    });
    expect((await open(path)).html).toContain('Note: Paid from &lt;ops&gt; budget');
  });

  it('refuses a note when text is not allowed (400 page); nothing changes', async () => {
    const { ws, agent, id, path } = await ask();
    const before = await timelineCount(t, agent.id);
    const res = await answer(path, { choice: 'Approve', text: 'sneaky' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(await approval(ws, id)).toMatchObject({ status: 'pending', response_text: null });
    expect(await timelineCount(t, agent.id)).toBe(before);
  });

  it('the confirm button of a pre-selected link decides that option', async () => {
    const { ws, id } = await ask();
    const path = `/r/${signLink(t.config.secret, { approvalId: id, choice: 1 })}`;
    const res = await answer(path, { choice: 'Reject' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(path);
    expect(await approval(ws, id)).toMatchObject({ status: 'responded', response_choice: 'Reject' });
  });

  it('past its deadline a POST is 409 and settles the timeout', async () => {
    const { ws, id, path } = await ask({ timeout_seconds: 1 });
    const page = await open(path);
    await new Promise((r) => setTimeout(r, 1200));
    const res = await submit(path, { _csrf: page.csrf!, choice: 'Approve' }, page.cookie);
    expect(res.status).toBe(409);
    expect(buttons(res.body)).toBe(0);
    expect(await approval(ws, id)).toMatchObject({ status: 'timed_out', via_timeout: true, response_choice: null });
  });
});

describe('the form parser is scoped to the pages', () => {
  it('the API still refuses urlencoded bodies with 415', async () => {
    const ws = await t.workspace();
    const res = await t.call('POST', '/v1/agents', {
      key: ws.ownerKey,
      body: 'name=formy',
      headers: { 'content-type': FORM },
    });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
    expect((await t.call('GET', '/v1/agents/formy', { key: ws.ownerKey })).status).toBe(404);
  });
});

describe('logs', () => {
  it('request logs never carry a response-page token', async () => {
    const { app, logged, close } = await loggedServer(t);
    try {
      const { path } = await ask();
      const token = path.split('/r/')[1]!;
      expect((await app.inject({ method: 'GET', url: path })).statusCode).toBe(200);
      expect(logged()).toContain('/r/[redacted]');
      expect(logged()).not.toContain(token);
    } finally {
      await close();
    }
  });
});
