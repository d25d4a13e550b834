// The response-page link is the power to answer: who gets it (contract §3.1), and which questions
// it may decide. An agent must not be able to answer its own question through a link it was given.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { BOT_TOKEN, startFakeTelegram } from './support/fake-telegram.js';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, startFakeTwilio } from './support/fake-twilio.js';
import { startSmtp } from './support/smtp.js';

const tg = await startFakeTelegram();
const twilio = await startFakeTwilio();
const smtp = await startSmtp();
const t = useTestApp({
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET: 'links-secret',
  TELEGRAM_API_ROOT: tg.url,
  SLACK_BOT_TOKEN: 'xoxb-links-test',
  SLACK_SIGNING_SECRET: 'links-signing-secret',
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
  SMTP_URL: smtp.url,
  EMAIL_FROM: 'leash@example.test',
});
afterAll(async () => {
  await tg.close();
  await twilio.close();
  await smtp.close();
});
const FORM = 'application/x-www-form-urlencoded';

const RECIPIENT = {
  web: 'alice@example.com',
  email: 'alice@example.com',
  sms: '+15550142001',
  slack: 'C0LINKS',
  telegram: '4200100',
} as const;
type Channel = keyof typeof RECIPIENT;
const CHANNELS = Object.keys(RECIPIENT) as Channel[];

async function setup() {
  const ws = await t.workspace();
  const agent = await ws.agent('asker');
  const viewer = await ws.member('viewer');
  const ask = (channel: Channel, key = agent.key) =>
    t.call('POST', '/v1/pause', {
      key,
      body: {
        recipient: RECIPIENT[channel],
        channel,
        message: 'Wire $340?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 600,
      },
    });
  return { ws, agent, viewer, ask };
}

/** A browser's CSRF cookie and token, from the page of `formUrl` (any page with a form). */
async function csrfFrom(formUrl: string) {
  const page = await t.app.inject({ method: 'GET', url: new URL(formUrl).pathname });
  const cookie = [page.headers['set-cookie'] ?? []]
    .flat()
    .find((c) => c.startsWith('_csrf='))!
    .split(';')[0]!;
  return { cookie, csrf: /name="_csrf" value="([^"]+)"/.exec(page.body)![1]! };
}

/** Open the page and post a choice, as a browser would (with a CSRF token from `formUrl`'s page
 *  when this page shows no form). */
async function answerOnPage(url: string, choice: string, formUrl = url) {
  const path = new URL(url).pathname;
  const page = await t.app.inject({ method: 'GET', url: path });
  const { cookie, csrf } = await csrfFrom(formUrl);
  const res = await t.app.inject({
    method: 'POST',
    url: path,
    payload: new URLSearchParams({ _csrf: csrf, choice }).toString(),
    headers: { 'content-type': FORM, cookie },
  });
  return { page, res };
}

describe('who gets the url', () => {
  it('the asking agent gets it only on web; approvers on every channel; viewers never', async () => {
    const { ws, agent, viewer, ask } = await setup();
    for (const channel of CHANNELS) {
      const created = await ask(channel);
      expect(created.status).toBe(201);
      const id = created.body.pause_id;
      const agentSees = channel === 'web';
      expect(created.body.url === null).toBe(!agentSees);
      expect((await t.call('GET', `/v1/pause/${id}`, { key: agent.key })).body.url === null).toBe(!agentSees);
      expect((await t.call('GET', `/v1/pause/${id}?wait=0`, { key: agent.key })).body.url === null).toBe(!agentSees);
      const listed = (await t.call('GET', '/v1/pause?status=pending', { key: agent.key })).body.data.find(
        (a: any) => a.pause_id === id,
      );
      expect(listed.url === null).toBe(!agentSees);
      expect((await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body.url).toMatch(/\/r\//);
      expect((await t.call('GET', `/v1/pause/${id}`, { key: viewer.key })).body.url).toBeNull();
      // An agent cancelling its own question gets the agent's view back.
      const cancelled = await t.call('POST', `/v1/pause/${id}/cancel`, { key: agent.key });
      expect(cancelled.body.url === null).toBe(!agentSees);
    }
  });
});

describe('what the response page decides', () => {
  it('questions sent by SMS, Slack or Telegram are shown there, never decided: their channel answers them', async () => {
    const { ws, ask } = await setup();
    const web = (await ask('web')).body.url;
    for (const channel of ['sms', 'slack', 'telegram'] as const) {
      const { body } = await ask(channel);
      const url = (await t.call('GET', `/v1/pause/${body.pause_id}`, { key: ws.ownerKey })).body.url;
      const { page, res } = await answerOnPage(url, 'Approve', web);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('Wire $340?');
      expect(page.body).not.toContain('<button type="submit" name="choice"');
      expect(page.body).toContain('answer it there');
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain(`This question was sent by ${channel}: answer it there`);
      const after = await t.call('GET', `/v1/pause/${body.pause_id}`, { key: ws.ownerKey });
      expect(after.body).toMatchObject({ status: 'pending', responder: null });
    }
  });

  it('web and email questions are decided on the page, credited to the link', async () => {
    const { ws, ask } = await setup();
    for (const channel of ['web', 'email'] as const) {
      const { body } = await ask(channel);
      const url = (await t.call('GET', `/v1/pause/${body.pause_id}`, { key: ws.ownerKey })).body.url;
      const { res } = await answerOnPage(url, 'Reject');
      expect(res.statusCode).toBe(303);
      const after = await t.call('GET', `/v1/pause/${body.pause_id}`, { key: ws.ownerKey });
      expect(after.body).toMatchObject({
        status: 'responded',
        response_choice: 'Reject',
        responder: { channel: 'web', display: `link sent to ${RECIPIENT[channel]}` },
      });
    }
  });
});
