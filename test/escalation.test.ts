// Escalation and reminders (contract §3.1): each step is a prompt queued for its time, armed like a
// timeout and re-armed from Postgres; answered where it lands; never sent once the request has
// left pending. SMS through a fake Twilio on loopback, inbound replies signed as Twilio signs them.
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, inboundSms, startFakeTwilio } from './support/fake-twilio.js';
import { useTestApp } from './support/app.js';
import { answerOnPage } from './support/response-page.js';
import { startSmtp } from './support/smtp.js';
import { startTestWorker, useWorkers } from './support/worker.js';

const PUBLIC_URL = 'https://leash.example.test';
const twilio = await startFakeTwilio();
const smtp = await startSmtp();
const t = useTestApp({
  PUBLIC_URL,
  SMTP_URL: smtp.url,
  EMAIL_FROM: 'leash@example.test',
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
});
afterAll(async () => {
  await twilio.close();
  await smtp.close();
});
const worker = useWorkers(t);

let phoneN = 5_550_170_000;
const nextPhone = () => `+1${++phoneN}`;
const sentTo = (phone: string) => twilio.sent.filter((s) => s.to === phone);

async function setup() {
  const ws = await t.workspace();
  const bot = await ws.agent('escalating-bot');
  const ask = (extra: Record<string, unknown>) =>
    t.call('POST', '/v1/pause', {
      key: bot.key,
      body: {
        recipient: 'cfo@example.com',
        channel: 'web',
        message: 'Wire $340?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 600,
        ...extra,
      },
    });
  const get = async (id: string) => (await t.call('GET', `/v1/pause/${id}`, { key: ws.ownerKey })).body;
  const actions = async () =>
    await t.deps.db
      .selectFrom('activity')
      .select(['action', 'details'])
      .where('workspace_id', '=', ws.id)
      .orderBy('id')
      .execute();
  return { ws, bot, ask, get, actions };
}

describe('escalation', () => {
  it('still pending after 2 s, the question also goes to SMS, and a reply there decides it', async () => {
    await worker();
    const { ws, ask, get, actions } = await setup();
    const phone = nextPhone();
    const created = Date.now();
    const q = await ask({ escalation: [{ after_seconds: 2, channel: 'sms', recipient: phone }] });
    expect(q.status).toBe(201);
    expect(q.body.escalation).toEqual([{ after_seconds: 2, channel: 'sms', recipient: phone }]);
    expect(q.body.delivery).toEqual([]); // not due yet
    await expect.poll(() => sentTo(phone).length, { timeout: 6_000 }).toBe(1);
    const sms = sentTo(phone)[0]!;
    expect(sms.at - created).toBeGreaterThanOrEqual(2_000);
    expect(sms.body).toMatch(
      /^Escalated: nobody has answered this yet\.\nWire \$340\?\nReply 1 for Approve, 2 for Reject/,
    );
    // The fake has the text before the worker records it as sent.
    await expect
      .poll(async () => (await get(q.body.pause_id)).delivery)
      .toEqual([{ channel: 'sms', recipient: phone, status: 'sent', sent_at: expect.any(String), error: null }]);
    const escalated = (await actions()).filter((a) => a.action === 'approval.escalated');
    expect(escalated.map((a) => a.details)).toEqual([
      { pause_id: q.body.pause_id, channel: 'sms', recipient: phone, step: 0 },
    ]);
    const event = await t.deps.db
      .selectFrom('outbox')
      .select('payload')
      .where('workspace_id', '=', ws.id)
      .where('type', '=', 'pause_request.escalated')
      .executeTakeFirstOrThrow();
    expect((event.payload as { data: { pause_id: string } }).data.pause_id).toBe(q.body.pause_id);
    const reply = await inboundSms(t.app, PUBLIC_URL, phone, '2');
    expect(reply.text).toBe('Recorded: Reject. Thank you.');
    expect(await get(q.body.pause_id)).toMatchObject({
      status: 'responded',
      response_choice: 'Reject',
      responder: { channel: 'sms', display: phone },
    });
  });

  it('an SMS question escalated to email is answered on the page the email links to, once it was sent there', async () => {
    await worker();
    const { ws, ask, get } = await setup();
    const own = nextPhone();
    const q = await ask({
      channel: 'sms',
      recipient: own,
      escalation: [{ after_seconds: 1, channel: 'email', recipient: 'cto@example.com' }],
    });
    const url = (await t.call('GET', `/v1/pause/${q.body.pause_id}`, { key: ws.ownerKey })).body.url as string;
    const path = new URL(url).pathname;
    // Before the escalation went out, the page only shows the SMS question.
    expect((await t.app.inject({ method: 'GET', url: path })).body).toContain('answer it there');
    await expect
      .poll(() => smtp.mails.filter((m) => m.to.includes('cto@example.com')).length, { timeout: 5_000 })
      .toBe(1);
    const mail = smtp.mails.find((m) => m.to.includes('cto@example.com'))!;
    expect(mail.text).toContain('Escalated: nobody has answered this yet.');
    expect(mail.text).toContain(path);
    // The mail is out before the worker records it as sent; then the page decides.
    await expect.poll(async () => (await t.app.inject({ method: 'GET', url: path })).body).toContain('name="_csrf"');
    const answered = await answerOnPage(t, path, { choice: 'Approve' });
    expect(answered.status).toBe(303);
    expect(await get(q.body.pause_id)).toMatchObject({ status: 'responded', responder: { channel: 'web' } });
  });

  it('a reminder goes once to the same recipient, and says so', async () => {
    await worker();
    const { ask, actions } = await setup();
    const phone = nextPhone();
    const q = await ask({ channel: 'sms', recipient: phone, remind_after_seconds: 1 });
    expect(q.body.remind_after_seconds).toBe(1);
    await expect.poll(() => sentTo(phone).length, { timeout: 5_000 }).toBe(2);
    expect(sentTo(phone)[0]!.body).toMatch(/^(\[[A-Z0-9]+\] )?Wire \$340\?/);
    expect(sentTo(phone)[1]!.body).toMatch(
      /^(\[[A-Z0-9]+\] )?Reminder: this still waits for an answer\.\nWire \$340\?/,
    );
    // The fake has the text before the worker records the reminder as sent.
    await expect.poll(async () => (await actions()).filter((a) => a.action === 'approval.reminded').length).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(sentTo(phone)).toHaveLength(2);
  });

  it('no escalation or reminder after the request was decided', async () => {
    await worker();
    const { ws, ask, get, actions } = await setup();
    const phone = nextPhone();
    const own = nextPhone();
    const q = await ask({
      channel: 'sms',
      recipient: own,
      escalation: [{ after_seconds: 1, channel: 'sms', recipient: phone }],
      remind_after_seconds: 1,
    });
    await expect.poll(() => sentTo(own).length).toBe(1);
    await t.call('POST', `/v1/pause/${q.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Approve' } });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(sentTo(phone)).toHaveLength(0);
    expect(sentTo(own)).toHaveLength(1);
    expect((await get(q.body.pause_id)).delivery).toEqual([
      { channel: 'sms', recipient: own, status: 'sent', sent_at: expect.any(String), error: null },
    ]);
    expect((await actions()).map((a) => a.action)).not.toContain('approval.escalated');
  });

  it('survives the worker stopping and Redis forgetting its jobs: the next worker sends it on time, once', async () => {
    const first = await startTestWorker(t);
    const { ask } = await setup();
    const phone = nextPhone();
    const created = Date.now();
    const q = await ask({ escalation: [{ after_seconds: 3, channel: 'sms', recipient: phone }] });
    expect(q.status).toBe(201);
    // Armed (the outbox dispatched), then the worker goes and its Redis keys with it.
    const undispatched = () =>
      sql<{ n: number }>`select count(*)::int as n from outbox where dispatched_at is null
        and payload->'data'->>'pause_id' = ${q.body.pause_id}`.execute(t.deps.db);
    await expect.poll(async () => (await undispatched()).rows[0]!.n).toBe(0);
    await first.stop();
    expect(await first.forget()).toBe(0);
    await worker(); // a fresh prefix: an empty Redis
    await expect.poll(() => sentTo(phone).length, { timeout: 8_000 }).toBe(1);
    expect(sentTo(phone)[0]!.at - created).toBeGreaterThanOrEqual(3_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(sentTo(phone)).toHaveLength(1);
  });
});

describe('bad escalations and reminders are refused, naming the field, and nothing is stored', () => {
  it.each([
    [
      'a channel that is off here',
      { escalation: [{ after_seconds: 5, channel: 'slack', recipient: 'C123' }] },
      'escalation.0.channel',
      'the slack channel is not configured on this Leash',
    ],
    [
      'a step later than the timeout',
      { timeout_seconds: 60, escalation: [{ after_seconds: 60, channel: 'sms', recipient: '+15550001111' }] },
      'escalation.0.after_seconds',
      'must be before the timeout (60 s)',
    ],
    [
      'steps out of order',
      {
        escalation: [
          { after_seconds: 9, channel: 'sms', recipient: '+15550001111' },
          { after_seconds: 5, channel: 'sms', recipient: '+15550002222' },
        ],
      },
      'escalation.1.after_seconds',
      'must be later than the step before',
    ],
    [
      'a recipient the channel cannot take',
      { escalation: [{ after_seconds: 5, channel: 'sms', recipient: 'not-a-phone' }] },
      'escalation.0.recipient',
      undefined,
    ],
    [
      'escalation to web (nothing is sent there)',
      { escalation: [{ after_seconds: 5, channel: 'web', recipient: 'x' }] },
      'escalation.0.channel',
      undefined,
    ],
    [
      'more than 3 steps',
      { escalation: [1, 2, 3, 4].map((s) => ({ after_seconds: s, channel: 'sms', recipient: '+15550001111' })) },
      'escalation',
      undefined,
    ],
    [
      'a reminder on web',
      { remind_after_seconds: 5 },
      'remind_after_seconds',
      'a web question is not sent anywhere, so it cannot be reminded of',
    ],
    [
      'a reminder after the timeout',
      { channel: 'sms', recipient: '+15550003333', timeout_seconds: 60, remind_after_seconds: 61 },
      'remind_after_seconds',
      'must be before the timeout (60 s)',
    ],
    [
      'a reminder of 0 s',
      { channel: 'sms', recipient: '+15550003333', remind_after_seconds: 0 },
      'remind_after_seconds',
      undefined,
    ],
  ])('%s', async (_name, extra, field, message) => {
    const { ws, ask } = await setup();
    const res = await ask(extra);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const named = res.body.error.fields.find((f: { field: string }) => f.field === field);
    expect(named, JSON.stringify(res.body.error.fields)).toBeDefined();
    if (message) expect(named.message).toBe(message);
    const stored = await t.deps.db.selectFrom('approvals').select('id').where('workspace_id', '=', ws.id).execute();
    expect(stored).toHaveLength(0);
  });
});
