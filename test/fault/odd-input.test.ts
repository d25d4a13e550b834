// Text from outside holds what Postgres cannot store (NUL), line breaks, emoji, bytes that are not
// UTF-8, and ids that are not ids. On every surface that takes text (dashboard forms, the response
// page, Slack commands, SMS) a property test sends such text: never a 5xx or a "something went
// wrong", and text that cannot be stored changes nothing and is refused in words.
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../support/app.js';
import { confirmed } from '../support/identities.js';
import { dashboardBrowser } from '../support/dashboard-browser.js';
import { commandForm, slackSignature, startFakeSlack } from '../support/fake-slack.js';
import { BOT_TOKEN, startFakeTelegram, tgMessage } from '../support/fake-telegram.js';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, inboundSms, startFakeTwilio } from '../support/fake-twilio.js';

const SLACK_SECRET = 'odd-input-slack-secret';
const PUBLIC_URL = 'https://leash.example.test';
const slack = await startFakeSlack();
const twilio = await startFakeTwilio();
const tg = await startFakeTelegram();
const TG_SECRET = 'odd-input-telegram-secret';
const t = useTestApp({
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  SLACK_BOT_TOKEN: 'xoxb-odd-input',
  SLACK_API_URL: slack.apiUrl,
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
  PUBLIC_URL,
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
  TELEGRAM_API_ROOT: tg.url,
});
afterAll(async () => {
  await slack.close();
  await twilio.close();
  await tg.close();
});
const { signedIn } = dashboardBrowser(t);
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

/** Text as people and programs send it: letters, emoji, line breaks, tabs, and now and then a NUL. */
const oddText = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.constantFrom('\u0000', '\r\n', '\n', '\t', '😀', 'é', ' ', '%00', '\\u0000'),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join('').slice(0, 400));
const hasNul = (s: string) => s.includes('\u0000');

async function setup() {
  const ws = await t.workspace();
  const bob = await ws.agent(`bob-${randomBytes(3).toString('hex')}`);
  const agent = () => t.deps.db.selectFrom('agents').selectAll().where('id', '=', bob.id).executeTakeFirstOrThrow();
  const unpause = () =>
    t.deps.db
      .updateTable('agents')
      .set({ pause_mode: null, paused_at: null, pause_reason: null, pause_by: null })
      .where('id', '=', bob.id)
      .execute();
  return { ws, bob, agent, unpause };
}

describe('dashboard forms', () => {
  it('a pause reason with any text: paused with it, or (NUL) refused with a notice and nothing changed; never a 5xx', async () => {
    const { ws, bob, agent, unpause } = await setup();
    const b = await signedIn(ws.ownerKey);
    const { csrf } = await b.get('/');
    await fc.assert(
      fc.asyncProperty(oddText, async (reason) => {
        await unpause();
        const res = await b.post(`/agents/${bob.id}/pause`, { _csrf: csrf!, mode: 'send', reason });
        expect(res.status).toBe(303);
        const row = await agent();
        if (hasNul(reason)) {
          expect(row.pause_mode).toBeNull();
          expect(decodeURIComponent(res.location!)).toContain('reason: must not contain NUL characters');
        } else {
          expect(row.pause_mode).toBe('send');
          expect(row.pause_reason).toBe(reason.trim().slice(0, 500) || null);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('an answer with any text as its choice is refused as not an option; never a 5xx', async () => {
    const { ws, bob } = await setup();
    const { body: a } = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: 'a@example.com',
        channel: 'web',
        message: 'Pay?',
        options: ['Yes', 'No'],
        timeout_seconds: 600,
      },
    });
    const b = await signedIn(ws.ownerKey);
    const { csrf } = await b.get('/approvals');
    await fc.assert(
      fc.asyncProperty(
        oddText.filter((s) => s !== 'Yes' && s !== 'No'),
        async (choice) => {
          const res = await b.post(`/approvals/${a.pause_id}/respond`, { _csrf: csrf!, choice });
          expect(res.status).toBe(303);
          expect(decodeURIComponent(res.location!)).toMatch(/error=choice: must (be one of|not contain NUL)/);
        },
      ),
      { numRuns: RUNS },
    );
    expect((await t.call('GET', `/v1/pause/${a.pause_id}`, { key: ws.ownerKey })).body.status).toBe('pending');
  });

  it('ids that are not ids, NUL and CRLF in a path: a 404 or a notice, never a 5xx', async () => {
    const { ws, bob } = await setup();
    const b = await signedIn(ws.ownerKey);
    const { csrf } = await b.get('/');
    const hook = await t.call('POST', '/v1/webhooks', { key: ws.ownerKey, body: { url: 'http://127.0.0.1:9/hook' } });
    for (const path of [
      `/webhooks/x/deliveries/y/redeliver`,
      `/webhooks/${hook.body.id}/deliveries/y/redeliver`,
      `/sessions/x/pause`,
      `/agents/%00/pause`,
      `/agents/a%0D%0ASet-Cookie:%20x/pause`,
    ]) {
      const res = await b.post(path, { _csrf: csrf!, mode: 'send', back: 'agent' });
      expect([path, res.status]).toEqual([path, 303]);
      expect(res.location).not.toMatch(/[\r\n]/);
      expect(res.headers['set-cookie'] ?? []).not.toContain('x');
    }
    for (const path of ['/agents/%00', '/agents/a%0D%0Ab', '/agents/x%FFy'])
      expect([path, (await b.get(path)).status]).toEqual([path, 404]);
    expect(
      (await t.deps.db.selectFrom('agents').select('pause_mode').where('id', '=', bob.id).executeTakeFirstOrThrow())
        .pause_mode,
    ).toBeNull();
  });
});

describe('bytes that are not UTF-8', () => {
  it('are refused with 400, in JSON and in forms, raw or percent-encoded, and nothing is stored', async () => {
    const ws = await t.workspace();
    const before = await t.deps.db.selectFrom('agents').select('id').where('workspace_id', '=', ws.id).execute();
    const json = Buffer.concat([Buffer.from('{"name":"bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/agents',
      payload: json,
      headers: { authorization: `Bearer ${ws.ownerKey}`, 'content-type': 'application/json' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: 'invalid_request',
      message: 'body: is not valid UTF-8',
      fields: [{ field: 'body' }],
    });
    expect(await t.deps.db.selectFrom('agents').select('id').where('workspace_id', '=', ws.id).execute()).toEqual(
      before,
    );
    for (const form of [Buffer.from('key=%FF%FE'), Buffer.concat([Buffer.from('key='), Buffer.from([0xc3, 0x28])])]) {
      const page = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(page.statusCode).toBe(400);
    }
  });
});

describe('Slack commands', () => {
  it('a /pause with any text: paused with it, or (NUL) refused in words and nothing changed', async () => {
    const { ws, bob, agent, unpause } = await setup();
    const user = `U${randomBytes(4).toString('hex').toUpperCase()}`;
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ slack_team_id: 'T0ODD', slack_user_id: user }))
      .where('id', '=', ws.ownerId)
      .execute();
    const name = (await agent()).name;
    await fc.assert(
      fc.asyncProperty(oddText, async (reason) => {
        await unpause();
        // A fresh trigger_id each time: the same signed request twice is a replay, acknowledged and ignored.
        const form = commandForm({
          team: 'T0ODD',
          user,
          command: '/pause',
          text: `${name} send ${reason}`,
          channel: 'C0ODD',
          responseUrl: `${slack.url}/respond/odd`,
          extra: { trigger_id: randomBytes(6).toString('hex') },
        });
        const res = await t.app.inject({
          method: 'POST',
          url: '/slack/events',
          payload: form,
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SLACK_SECRET, form) },
        });
        expect(res.statusCode).toBe(200);
        const reply = res.json().text as string;
        expect(reply).not.toMatch(/went wrong/);
        expect((await agent()).pause_mode === null).toBe(hasNul(reason));
        if (hasNul(reason)) expect(reply).toContain('must not contain NUL');
      }),
      { numRuns: RUNS },
    );
    expect(bob.id).toBeTruthy();
  });
});

describe('Telegram commands', () => {
  it('a /pause with any text: answered 200 and in words; a NUL changes nothing', async () => {
    const { ws, agent, unpause } = await setup();
    const user = 60_000_000 + (randomBytes(3).readUIntBE(0, 3) % 1_000_000);
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ telegram_user_id: String(user) }))
      .where('id', '=', ws.ownerId)
      .execute();
    const name = (await agent()).name;
    await fc.assert(
      fc.asyncProperty(oddText, async (reason) => {
        await unpause();
        const from = tg.calls.length;
        const res = await t.app.inject({
          method: 'POST',
          url: '/telegram/webhook',
          payload: JSON.stringify(tgMessage(user, `/pause ${name} send ${reason}`)),
          headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TG_SECRET },
        });
        expect(res.statusCode).toBe(200);
        const said = tg.calls
          .slice(from)
          .filter((c) => c.method === 'sendMessage')
          .map((c) => String(c.args.text))
          .join('\n');
        expect(said).not.toMatch(/went wrong/);
        expect((await agent()).pause_mode === null).toBe(hasNul(reason));
        if (hasNul(reason)) expect(said).toContain('must not contain NUL');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('SMS', () => {
  it('any text from a phone gets a TwiML reply in words, never a 5xx; a NUL is refused and nothing changes', async () => {
    const { ws, bob, agent } = await setup();
    const phone = `+1555${(randomBytes(3).readUIntBE(0, 3) % 9_000_000) + 1_000_000}`;
    await t.deps.db.updateTable('members').set(confirmed({ phone })).where('id', '=', ws.ownerId).execute();
    const name = (await agent()).name;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          oddText,
          oddText.map((s) => `PAUSE ${name} ${s}`),
        ),
        async (body) => {
          const res = await inboundSms(t.app, PUBLIC_URL, phone, body);
          expect(res.status).toBe(200);
          expect(res.body).not.toMatch(/went wrong/);
          if (hasNul(body)) expect(res.body).toContain('could not read that message');
          await t.deps.db
            .updateTable('agents')
            .set({ pause_mode: null, paused_at: null, pause_reason: null })
            .where('id', '=', bob.id)
            .execute();
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('the response page', () => {
  it('a note with any text: decided with it, or (NUL) refused on the page; never a 5xx', async () => {
    const { bob } = await setup();
    await fc.assert(
      fc.asyncProperty(oddText, async (note) => {
        const { body: a } = await t.call('POST', '/v1/pause', {
          key: bob.key,
          body: {
            recipient: 'a@example.com',
            channel: 'web',
            message: 'Pay?',
            options: ['Yes', 'No'],
            allow_text_response: true,
            timeout_seconds: 600,
          },
        });
        const path = new URL(a.url).pathname;
        const page = await t.app.inject({ method: 'GET', url: path });
        const cookie = [page.headers['set-cookie'] ?? []]
          .flat()
          .find((c) => c.startsWith('_csrf='))!
          .split(';')[0]!;
        const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
        const res = await t.app.inject({
          method: 'POST',
          url: path,
          payload: new URLSearchParams({ _csrf: csrf, choice: 'Yes', text: note }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        });
        expect(res.statusCode).toBeLessThan(500);
        const after = (await t.call('GET', `/v1/pause/${a.pause_id}`, { key: bob.key })).body;
        expect(after.status).toBe(hasNul(note) ? 'pending' : 'responded');
        if (!hasNul(note)) expect(after.response_text).toBe(note || null);
      }),
      { numRuns: RUNS },
    );
  });
});
