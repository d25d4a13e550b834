// The email channel against a local SMTP server: one signed link per option and the page link,
// in text and HTML; a link decides once (after confirming), a second use says it is decided.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { startSmtp } from './support/smtp.js';
import { useWorkers } from './support/worker.js';

const smtp = await startSmtp();
afterAll(() => smtp.close());
const PUBLIC_URL = 'https://leash.example.test';
const t = useTestApp({ SMTP_URL: smtp.url, EMAIL_FROM: 'Leash <leash@example.test>', PUBLIC_URL });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const FORM = 'application/x-www-form-urlencoded';
const worker = useWorkers(t);

async function openPage(path: string) {
  const res = await t.app.inject({ method: 'GET', url: path });
  const cookie = [res.headers['set-cookie'] ?? []]
    .flat()
    .find((c) => c.startsWith('_csrf='))
    ?.split(';')[0];
  return { status: res.statusCode, html: res.body, csrf: /name="_csrf" value="([^"]+)"/.exec(res.body)?.[1], cookie };
}

/** Follows an emailed option link as a person would: open it, then press the confirm button. */
async function follow(url: string) {
  const path = new URL(url).pathname;
  const page = await openPage(path);
  const choice = /name="choice" value="([^"]+)"/.exec(page.html)?.[1];
  const res = await t.app.inject({
    method: 'POST',
    url: path,
    payload: new URLSearchParams({ _csrf: page.csrf ?? '', ...(choice ? { choice } : {}) }).toString(),
    headers: { 'content-type': FORM, ...(page.cookie ? { cookie: page.cookie } : {}) },
  });
  return { page, status: res.statusCode, html: res.body };
}

describe('approvals by email', () => {
  it('sends text and HTML with a link per option; a link decides once; a second use says it is decided', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    await worker();
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'alice@example.com',
        channel: 'email',
        message: 'Send a $340 wire to <Acme>?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 600,
        metadata: { invoice: 'INV-7' },
      },
    });
    expect(a.status).toBe(201);
    await expect.poll(() => smtp.mails.filter((m) => m.to.includes('alice@example.com')).length).toBe(1);
    const mail = smtp.mails.find((m) => m.to.includes('alice@example.com'))!;
    expect(mail.from).toBe('leash@example.test');
    expect(mail.subject).toContain('Approval needed: Send a $340 wire to <Acme>?');
    expect(mail.text).toContain('bob asks:');
    expect(mail.text).toContain('invoice: INV-7');
    expect(mail.html).toContain('Send a $340 wire to &lt;Acme&gt;?');
    const links = [...mail.text.matchAll(/^ {2}(Approve|Reject): (\S+)$/gm)].map((m) => [m[1], m[2]!]);
    expect(links.map((l) => l[0])).toEqual(['Approve', 'Reject']);
    for (const [, url] of links)
      expect(url).toMatch(/^https:\/\/leash\.example\.test\/r\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    for (const [, url] of links) expect(mail.html).toContain(`href="${url}"`);
    expect(mail.text).toMatch(/Or open the question: https:\/\/leash\.example\.test\/r\//);

    // Opening a link decides nothing (mail scanners open links too).
    const looked = await openPage(new URL(links[1]![1]!).pathname);
    expect(looked.status).toBe(200);
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');

    const first = await follow(links[1]![1]!);
    expect(first.status).toBe(303); // post/redirect/get back to the page, which shows the outcome
    const got = await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key });
    expect(got.body).toMatchObject({ status: 'responded', response_choice: 'Reject' });

    const again = await follow(links[0]![1]!);
    expect(again.page.html).toContain('Reject');
    expect(again.page.html).toMatch(/decided|answered/i);
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.response_choice).toBe('Reject');
  });
});
