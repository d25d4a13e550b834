// SMS through a fake Twilio on loopback, with inbound requests signed as Twilio signs them: the
// prompt, numbered and coded replies, notes, wrong numbers, signatures, duplicates, commands from
// an owner's phone, the carriers' opt-out words, and segment-aware prompts.
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { segments } from '../src/channels/sms/segments.js';
import { timelineCount, useTestApp } from './support/app.js';
import { confirmHeld } from './support/identities.js';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, inboundSms, startFakeTwilio } from './support/fake-twilio.js';
import { useWorkers } from './support/worker.js';

const PUBLIC_URL = 'https://leash.example.test';
const twilio = await startFakeTwilio();
const t = useTestApp({
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
  PUBLIC_URL,
});
afterAll(() => twilio.close());
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const phone = () => `+1555${randomInt(1_000_000, 9_999_999)}`;

/** An inbound SMS as Twilio posts it; the TwiML reply's message is `text` ('' for none). */
const inbound = (from: string, body: string, opts: { sid?: string; signature?: string | null } = {}) =>
  inboundSms(t.app, PUBLIC_URL, from, body, opts);

const worker = useWorkers(t);

async function setup() {
  const ws = await t.workspace();
  const bob = await ws.agent('bob');
  return { ws, bob };
}

const ask = (key: string, to: string, extra: Record<string, unknown> = {}) =>
  t.call('POST', '/v1/pause', {
    key,
    body: {
      recipient: to,
      channel: 'sms',
      message: 'Send a $340 wire to Acme?',
      options: ['Approve', 'Reject'],
      timeout_seconds: 600,
      ...extra,
    },
  });
const sentTo = (to: string) => twilio.sent.filter((s) => s.to === to);
const status = async (key: string, id: string) => (await t.call('GET', `/v1/pause/${id}`, { key })).body;

describe('prompts and replies', () => {
  it('the full loop: the prompt ends with the reply line; "1" decides, credited to the phone; a later reply is told', async () => {
    const { ws, bob } = await setup();
    await worker();
    const to = phone();
    const a = await ask(bob.key, to);
    await expect.poll(() => sentTo(to).length).toBe(1);
    expect(sentTo(to)[0]).toMatchObject({
      from: FROM,
      body: 'Send a $340 wire to Acme?\nReply 1 for Approve, 2 for Reject',
    });
    const r = await inbound(to, ' 1 ');
    expect([r.status, r.text]).toEqual([200, 'Recorded: Approve. Thank you.']);
    expect(await status(bob.key, a.body.pause_id)).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      responder: { channel: 'sms', display: to },
    });
    const activity = await t.call('GET', `/v1/agents/${bob.id}/activity`, { key: ws.ownerKey });
    expect(activity.body.data[0]).toMatchObject({ action: 'approval.responded', channel: 'sms' });
    expect((await inbound(to, '2')).text).toBe(`Already decided by ${to}: Approve`);
  });

  it('two pending approvals: the second prompt carries a code, a bare number is ambiguous, "K7 2" decides, then a bare number does', async () => {
    const { bob } = await setup();
    await worker();
    const to = phone();
    const first = await ask(bob.key, to, { message: 'Wire to Acme?' });
    await expect.poll(() => sentTo(to).length).toBe(1);
    const second = await ask(bob.key, to, { message: 'Deploy to prod?', options: ['Go', 'Wait'] });
    await expect.poll(() => sentTo(to).length, { timeout: 5_000 }).toBe(2);
    const code = /^\[([A-Z][2-9])\] Deploy to prod\?\nReply \1 1 for Go, \1 2 for Wait$/.exec(sentTo(to)[1]!.body)?.[1];
    expect(code).toBeDefined();

    const ambiguous = await inbound(to, '1');
    expect(ambiguous.text).toMatch(/^You have 2 pending approvals; start your reply with its code\./);
    expect(ambiguous.text).toContain(`${code}: Deploy to prod? (1 Go, 2 Wait)`);
    expect((await status(bob.key, first.body.pause_id)).status).toBe('pending');

    expect((await inbound(to, `${code!.toLowerCase()} 2`)).text).toBe('Recorded: Wait. Thank you.');
    expect(await status(bob.key, second.body.pause_id)).toMatchObject({ status: 'responded', response_choice: 'Wait' });
    expect((await inbound(to, 'reject')).text).toBe('Recorded: Reject. Thank you.');
    expect((await status(bob.key, first.body.pause_id)).response_choice).toBe('Reject');
    expect((await inbound(to, `${code} 1`)).text).toBe(`Already decided by ${to}: Wait`);
    // A code neither prompt drew (each draws one at random, shown or not).
    const drawn = (await t.deps.db.selectFrom('prompts').select('ref').where('recipient', '=', to).execute()).map(
      (p) => (p.ref as { code?: string }).code,
    );
    const unused = ['Z9', 'Y8', 'X7'].find((c) => !drawn.includes(c))!;
    expect((await inbound(to, `${unused} 1`)).text).toBe(`No approval with code ${unused} is waiting for this number.`);
  });

  it('a question naming approvers takes a reply only from a phone confirmed to one of them', async () => {
    const { ws, bob } = await setup();
    await worker();
    const listedPhone = phone();
    const listed = await ws.member('approver', { phone: listedPhone });
    await confirmHeld(t, listed.id);
    const stranger = phone();
    const refusedAsk = await ask(bob.key, stranger, { approvers: [listed.id] });
    await expect.poll(() => sentTo(stranger).length).toBe(1);
    expect((await inbound(stranger, '1')).text).toBe('Only the approvers this question names may decide it');
    expect((await status(bob.key, refusedAsk.body.pause_id)).status).toBe('pending');
    const a = await ask(bob.key, listedPhone, { approvers: [listed.id] });
    await expect.poll(() => sentTo(listedPhone).length).toBe(1);
    expect((await inbound(listedPhone, '1')).text).toBe('Recorded: Approve. Thank you.');
    expect((await status(bob.key, a.body.pause_id)).responder).toMatchObject({ channel: 'sms', member_id: listed.id });
  });

  it('a quorum of 2: the reply from the phone is one vote, counted back to it; the phone twice is refused; a member settles it', async () => {
    const { ws, bob } = await setup();
    await worker();
    const to = phone();
    const other = await ws.member('approver');
    const a = await ask(bob.key, to, { approvals_required: 2 });
    await expect.poll(() => sentTo(to).length).toBe(1);
    expect(sentTo(to)[0]!.body).toContain('0 of 2 approvals for Approve');
    expect((await inbound(to, '1')).text).toBe('Recorded: Approve — 1 of 2 approvals. Thank you.');
    expect((await inbound(to, '1')).text).toBe('You already voted on this question (Approve)');
    expect((await status(bob.key, a.body.pause_id)).votes).toMatchObject([{ channel: 'sms', display: to }]);
    await t.call('POST', `/v1/pause/${a.body.pause_id}/respond`, { key: other.key, body: { choice: 'Approve' } });
    expect((await status(bob.key, a.body.pause_id)).status).toBe('responded');
  });

  it('replies are accepted only from the recipient number', async () => {
    const { bob } = await setup();
    const to = phone();
    const a = await ask(bob.key, to);
    const other = await inbound(phone(), '1');
    expect(other.text).toMatch(/^Sorry, I did not understand that\./);
    expect((await status(bob.key, a.body.pause_id)).status).toBe('pending');
  });

  it('a note follows the choice where the approval takes one; elsewhere it is refused; nonsense gets the help', async () => {
    const { bob } = await setup();
    const to = phone();
    const a = await ask(bob.key, to, { allow_text_response: true });
    expect((await inbound(to, '2 amount looks wrong')).text).toBe('Recorded: Reject (with your note). Thank you.');
    expect(await status(bob.key, a.body.pause_id)).toMatchObject({
      response_choice: 'Reject',
      response_text: 'amount looks wrong',
    });
    const to2 = phone();
    const b = await ask(bob.key, to2);
    expect((await inbound(to2, '1 sure')).text).toBe(
      'This question takes no note: reply with just the number (1 Approve, 2 Reject).',
    );
    expect((await inbound(to2, 'maybe later')).text).toMatch(
      /^Sorry, I did not understand that\. Leash: reply to a prompt/,
    );
    expect((await inbound(to2, '7')).text).toMatch(/^Sorry, I did not understand that/);
    expect((await status(bob.key, b.body.pause_id)).status).toBe('pending');
  });

  it('options are matched by text before number, and an option may be a carrier opt-in word', async () => {
    const { bob } = await setup();
    const to = phone();
    const a = await ask(bob.key, to, { options: ['5 hours', '2 hours'], allow_text_response: true });
    expect((await inbound(to, '2 hours')).text).toBe('Recorded: 2 hours. Thank you.');
    expect(await status(bob.key, a.body.pause_id)).toMatchObject({ response_choice: '2 hours', response_text: null });
    const to2 = phone();
    const b = await ask(bob.key, to2, { options: ['Yes', 'No'] });
    expect((await inbound(to2, 'YES')).text).toBe('Recorded: Yes. Thank you.');
    expect((await status(bob.key, b.body.pause_id)).response_choice).toBe('Yes');
    // With nothing pending, an opt-in word gets no reply at all.
    expect((await inbound(phone(), 'START')).text).toBe('');
  });

  it('a bad or missing signature is refused (401); a duplicate MessageSid changes nothing', async () => {
    const { bob } = await setup();
    const to = phone();
    const a = await ask(bob.key, to);
    expect((await inbound(to, '1', { signature: 'bm90IGEgc2lnbmF0dXJl' })).status).toBe(401);
    expect((await inbound(to, '1', { signature: null })).status).toBe(401);
    expect((await status(bob.key, a.body.pause_id)).status).toBe('pending');
    const sid = `SM${randomBytes(16).toString('hex')}`;
    expect((await inbound(to, '2', { sid })).text).toBe('Recorded: Reject. Thank you.');
    const before = await timelineCount(t, bob.id);
    const again = await inbound(to, '2', { sid });
    expect([again.status, again.text]).toEqual([200, '']);
    expect(await timelineCount(t, bob.id)).toBe(before);
  });

  it('STOP, START and the other opt-out words belong to the carrier: no reply, nothing decided or paused', async () => {
    const { ws, bob } = await setup();
    const owner = phone();
    await t.call('PATCH', `/v1/members/${ws.ownerId}`, { key: ws.ownerKey, body: { phone: owner } });
    const a = await ask(bob.key, owner);
    for (const word of ['STOP', 'stop', 'START', 'UNSTOP', 'CANCEL', 'QUIT']) {
      const r = await inbound(owner, word);
      expect([r.status, r.text]).toEqual([200, '']);
    }
    expect((await status(bob.key, a.body.pause_id)).status).toBe('pending');
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.status).toBe('active');
  });

  it('prompts stay within 3 segments: GSM-7 text is cut with "...", other text (UCS-2) sooner with "…"', async () => {
    const { bob } = await setup();
    await worker();
    const gsmTo = phone();
    await ask(bob.key, gsmTo, { message: `Ship order ${'x'.repeat(800)}?` });
    const ucsTo = phone();
    await ask(bob.key, ucsTo, { message: `Отправить платёж 💸 ${'я'.repeat(400)}?`, options: ['Да', 'Нет'] });
    await expect.poll(() => sentTo(gsmTo).length + sentTo(ucsTo).length, { timeout: 5_000 }).toBe(2);
    const gsm = sentTo(gsmTo)[0]!.body;
    expect(segments(gsm)).toEqual({ encoding: 'GSM-7', segments: 3 });
    expect(gsm).toMatch(/x\.\.\.\nReply 1 for Approve, 2 for Reject$/);
    const ucs = sentTo(ucsTo)[0]!.body;
    expect(segments(ucs)).toEqual({ encoding: 'UCS-2', segments: 3 });
    expect(ucs).toMatch(/я…\nReply 1 for Да, 2 for Нет$/);
    expect(ucs.length).toBeLessThanOrEqual(201);

    // Long options are shortened in the reply line; the question keeps its room.
    const longTo = phone();
    const many = ['Ж'.repeat(190), 'Щ'.repeat(190), 'Ю'.repeat(190), 'Ф'.repeat(190), 'Ц'.repeat(190)];
    await ask(bob.key, longTo, { message: 'Какой вариант выбрать для запуска?', options: many });
    await expect.poll(() => sentTo(longTo).length, { timeout: 5_000 }).toBe(1);
    const long = sentTo(longTo)[0]!.body;
    expect(segments(long).segments).toBeLessThanOrEqual(3);
    expect(long.startsWith('Какой вариант выбрать для запуска?')).toBe(true);
    expect(long).toContain(`Reply 1 for ${'Ж'.repeat(19)}., 2 for ${'Щ'.repeat(19)}.`);
  });
});

describe('commands from a linked owner’s phone', () => {
  it('PAUSE <agent> [full], UNPAUSE, STATUS, HALT and HELP; usage lines; nothing for strangers or viewers', async () => {
    const { ws, bob } = await setup();
    const owner = phone();
    await t.call('PATCH', `/v1/members/${ws.ownerId}`, { key: ws.ownerKey, body: { phone: owner } });
    await confirmHeld(t, ws.ownerId);
    expect((await inbound(owner, 'PAUSE bob full')).text).toMatch(/^Paused bob \(full\)\./);
    const activity = await t.call('GET', `/v1/agents/${bob.id}/activity`, { key: ws.ownerKey });
    expect(activity.body.data[0]).toMatchObject({
      action: 'agent.paused',
      channel: 'sms',
      actor: { id: ws.ownerId },
      details: { mode: 'full' },
    });
    expect((await inbound(owner, 'status')).text).toMatch(/^bob: paused \(full\)/);
    expect((await inbound(owner, 'unpause bob')).text).toMatch(/^Unpaused bob\./);
    expect((await inbound(owner, 'PAUSE')).text).toBe('Usage: PAUSE <agent> [full]');
    expect((await inbound(owner, 'PAUSE bob later')).text).toBe('Usage: PAUSE <agent> [full]');
    expect((await inbound(owner, 'HELP')).text).toContain(
      'PAUSE <agent> [full], UNPAUSE <agent>, HALT <agent>, STATUS',
    );
    expect((await inbound(owner, 'HALT bob')).text).toMatch(/^Stopped bob\./);
    expect((await t.call('GET', `/v1/agents/${bob.id}`, { key: ws.ownerKey })).body.status).toBe('inactive');

    const stranger = await inbound(phone(), 'PAUSE bob');
    expect(stranger.text).toContain(
      'This phone number is not linked to a Leash member, or not confirmed yet, so nothing was changed.',
    );
    const viewerPhone = phone();
    await confirmHeld(t, (await ws.member('viewer', { phone: viewerPhone })).id);
    expect((await inbound(viewerPhone, 'UNPAUSE bob')).text).toBe('This needs the owner role; you are viewer');
  });
});

describe('delivery', () => {
  it('a Twilio 429 is waited out by the job, and the prompt still goes once', async () => {
    const { bob } = await setup();
    await worker();
    const to = phone();
    twilio.rateLimitNext(to);
    const started = Date.now();
    await ask(bob.key, to);
    await expect.poll(() => sentTo(to).length, { timeout: 10_000 }).toBe(1);
    expect(sentTo(to)[0]!.at - started).toBeGreaterThanOrEqual(4_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(sentTo(to)).toHaveLength(1);
  }, 15_000);
});
