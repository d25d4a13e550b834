// Forged and replayed vendor requests (contract §6: "every inbound vendor request is authenticated by
// its signature before anything is read from it; a replay or a forged request changes nothing").
// Slack, Telegram and Twilio requests are built by the test fakes exactly as the vendors sign them,
// then forged (wrong key, wrong URL, stale or future clock, altered after signing, headers missing)
// or replayed byte for byte. For each refusal the file compares a snapshot of the database taken
// straight from the tables before and after; a replay must leave the first copy's effect exactly once.
// Last, the other direction: a receiver verifying Leash's Standard Webhooks signature with the
// `standardwebhooks` library accepts a real delivery from a real worker and refuses forgeries of it.
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { useTestApp } from '../support/app.js';
import { confirmed } from '../support/identities.js';
import { clickForm, commandForm, slackSignature, startFakeSlack } from '../support/fake-slack.js';
import { BOT_ID, BOT_TOKEN, startFakeTelegram, tgMessage, tgPress } from '../support/fake-telegram.js';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, startFakeTwilio, twilioSignature } from '../support/fake-twilio.js';
import { startReceiver, type Received } from '../support/receiver.js';
import { useWorkers } from '../support/worker.js';

const SLACK_SECRET = 'slack-signing-secret-forged-tests';
const TG_SECRET = 'telegram-webhook-secret-forged-tests';
const PUBLIC_URL = 'https://leash.example.test';
const slack = await startFakeSlack();
const tg = await startFakeTelegram();
const twilio = await startFakeTwilio();
const t = useTestApp({
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  SLACK_BOT_TOKEN: 'xoxb-forged-tests',
  SLACK_API_URL: slack.apiUrl,
  TELEGRAM_BOT_TOKEN: BOT_TOKEN,
  TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
  TELEGRAM_API_ROOT: tg.url,
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
  PUBLIC_URL,
});
afterAll(() => Promise.all([slack.close(), tg.close(), twilio.close()]));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});
const worker = useWorkers(t, { retryScheduleMs: [50, 50, 50] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// What "nothing changed" means: read from the tables themselves, not through the API under test.

async function snapshot() {
  const db = t.deps.db;
  const count = async (table: 'activity' | 'outbox' | 'deliveries' | 'link_codes') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    approvals: await db
      .selectFrom('approvals')
      .select(['id', 'status', 'response_choice', 'response_text', 'response_at', 'responder', 'via_timeout'])
      .orderBy('id')
      .execute(),
    agents: await db
      .selectFrom('agents')
      .select([
        'id',
        'pause_mode',
        'paused_at',
        'pause_reason',
        'pause_by',
        'run_state',
        'stop_deadline',
        'stopped_at',
        'deleted_at',
      ])
      .orderBy('id')
      .execute(),
    members: await db
      .selectFrom('members')
      .select(['id', 'role', 'phone', 'slack_team_id', 'slack_user_id', 'telegram_user_id'])
      .orderBy('id')
      .execute(),
    activity: await count('activity'),
    outbox: await count('outbox'),
    deliveries: await count('deliveries'),
    linkCodes: await count('link_codes'),
    inbound: await db
      .selectFrom('inbound_requests')
      .select(['source', 'key'])
      .orderBy('source')
      .orderBy('key')
      .execute(),
  };
}

/** Timeline rows of one action (for one approval, when given). */
async function actions(
  action: string,
  opts: { agentId?: string; approvalId?: string; channel?: string } = {},
): Promise<number> {
  let q = t.deps.db
    .selectFrom('activity')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('action', '=', action);
  if (opts.agentId) q = q.where('agent_id', '=', opts.agentId);
  if (opts.channel) q = q.where('channel', '=', opts.channel);
  if (opts.approvalId)
    q = q.where((eb) => eb(eb.ref('details', '->>').key('pause_id' as never), '=', opts.approvalId!));
  return Number((await q.executeTakeFirstOrThrow()).n);
}

const outboxEvents = async (type: string, objectId: string) =>
  (await t.deps.db.selectFrom('outbox').select('payload').where('type', '=', type).execute()).filter((r) =>
    JSON.stringify(r.payload).includes(objectId),
  ).length;

const agentRow = (id: string) =>
  t.deps.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const approvalRow = (id: string) =>
  t.deps.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** Puts a decided approval back to pending by hand, so that a replay that got through would decide it again. */
const reopen = (id: string) =>
  t.deps.db
    .updateTable('approvals')
    .set({ status: 'pending', response_choice: null, response_text: null, response_at: null, responder: null })
    .where('id', '=', id)
    .execute();

const ask = (key: string, channel: string, recipient: string) =>
  t.call('POST', '/v1/pause', {
    key,
    body: {
      recipient,
      channel,
      message: 'Wire $9,000 to a new payee?',
      options: ['Approve', 'Reject'],
      timeout_seconds: 600,
    },
  });

// ---------------------------------------------------------------------------------------------
// Slack

const TEAM = 'T0FORGED1';
const slackUser = () => `U${randomBytes(4).toString('hex').toUpperCase()}`;

async function slackPost(body: string, headers: Record<string, string>, extra: { contentType?: string | null } = {}) {
  const contentType = extra.contentType === undefined ? 'application/x-www-form-urlencoded' : extra.contentType;
  const res = await t.app.inject({
    method: 'POST',
    url: '/slack/events',
    payload: body,
    headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
  });
  let json: any;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, text: res.body, json };
}

const forgedCommand = (user: string, cmd: string, text: string) =>
  commandForm({
    team: TEAM,
    user,
    command: cmd,
    text,
    channel: 'C0FORGED',
    responseUrl: `${slack.url}/respond/cmd-${randomBytes(4).toString('hex')}`,
  });

function forgedClick(user: string, value: string) {
  const responseUrl = `${slack.url}/respond/click-${randomBytes(4).toString('hex')}`;
  return {
    form: clickForm({ team: TEAM, user, value, index: Number(value.split('|')[1]), channel: 'C0FORGED', responseUrl }),
    responseUrl,
  };
}

const slackResponsesTo = (url: string) => slack.responses.filter((r) => url.endsWith(r.path));

/** Every way to forge `body` (signed or not, as the case needs): [what, body, headers]. `altered` is
 *  the body an attacker would rather have had signed. */
function slackForgeries(body: string, altered: string): [string, string, Record<string, string>][] {
  const now = Math.floor(Date.now() / 1000);
  const good = slackSignature(SLACK_SECRET, body, now);
  const stale = slackSignature(SLACK_SECRET, body, now - 360);
  return [
    ['a wrong signature', body, { ...good, 'x-slack-signature': `v0=${randomBytes(32).toString('hex')}` }],
    ['a signature made with another secret', body, slackSignature('some-other-apps-signing-secret', body, now)],
    ['a timestamp 6 minutes old (correctly signed)', body, stale],
    ['a timestamp 6 minutes in the future (correctly signed)', body, slackSignature(SLACK_SECRET, body, now + 360)],
    ['a stale request with its timestamp moved to now', body, { ...stale, 'x-slack-request-timestamp': String(now) }],
    ['a body altered after signing', altered, good],
    ['the genuine signature of another request', body, slackSignature(SLACK_SECRET, altered, now)],
    ['the signature in upper case', body, { ...good, 'x-slack-signature': good['x-slack-signature']!.toUpperCase() }],
    ['no signature headers', body, {}],
    ['no timestamp header', body, { 'x-slack-signature': good['x-slack-signature']! }],
    ['no signature header', body, { 'x-slack-request-timestamp': good['x-slack-request-timestamp']! }],
    ['an empty signature', body, { ...good, 'x-slack-signature': '' }],
  ];
}

async function slackSetup() {
  const ws = await t.workspace();
  const owner = slackUser();
  await t.deps.db
    .updateTable('members')
    .set(confirmed({ slack_team_id: TEAM, slack_user_id: owner }))
    .where('id', '=', ws.ownerId)
    .execute();
  const bob = await ws.agent('bob');
  return { ws, owner, bob };
}

describe('Slack: POST /slack/events', () => {
  it('a forged /pause command is refused (401) in every form, and nothing changes', async () => {
    const { owner, bob } = await slackSetup();
    // What was signed is harmless (/status); the attacker wants /pause bob full.
    const signed = forgedCommand(owner, '/status', 'bob');
    const wanted = signed.replace('command=%2Fstatus', 'command=%2Fpause').replace('text=bob', 'text=bob+full+forged');
    expect(wanted).not.toBe(signed);
    const calls = slack.calls.length;
    const start = await snapshot();
    for (const [what, body, headers] of [...slackForgeries(signed, wanted), ...slackForgeries(wanted, signed)]) {
      const res = await slackPost(body, headers);
      expect(res.status, what).toBe(401);
      expect(res.json?.error?.code, what).toBe('unauthorized');
      expect(await snapshot(), what).toEqual(start);
    }
    // Without a content type the body is still only bytes under a signature: refused the same way.
    expect((await slackPost(wanted, {}, { contentType: null })).status).toBe(401);
    expect(
      (
        await slackPost(
          JSON.stringify({ type: 'event_callback', event_id: 'EvFORGED', event: { type: 'app_home_opened' } }),
          { 'x-slack-request-timestamp': String(Math.floor(Date.now() / 1000)), 'x-slack-signature': 'v0=00' },
          { contentType: 'application/json' },
        )
      ).status,
    ).toBe(401);
    await sleep(150); // a listener that slipped through would run after the answer
    expect(await snapshot()).toEqual(start);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect(slack.calls.length).toBe(calls);
  });

  it('a forged approval click is refused (401) in every form: nothing decided, nothing said', async () => {
    const { owner, bob } = await slackSetup();
    const a = await ask(bob.key, 'slack', 'C0FORGED');
    expect(a.status).toBe(201);
    const id = a.body.pause_id as string;
    // The owner's click on Reject, turned into Approve.
    const signed = forgedClick(owner, `${id}|1`);
    const wanted = {
      form: signed.form.replace(encodeURIComponent(`${id}|1`), encodeURIComponent(`${id}|0`)),
      responseUrl: signed.responseUrl,
    };
    expect(wanted.form).not.toBe(signed.form);
    const calls = slack.calls.length;
    const start = await snapshot();
    for (const [what, body, headers] of [
      ...slackForgeries(signed.form, wanted.form),
      ...slackForgeries(wanted.form, signed.form),
    ]) {
      const res = await slackPost(body, headers);
      expect(res.status, what).toBe(401);
      expect(await snapshot(), what).toEqual(start);
    }
    await sleep(150);
    expect(await snapshot()).toEqual(start);
    expect((await approvalRow(id)).status).toBe('pending');
    expect(slackResponsesTo(signed.responseUrl)).toEqual([]);
    expect(slack.calls.length).toBe(calls);
  });

  it('a correctly signed body that is not an object (JSON null, a list) is refused (400), not a 500, and changes nothing', async () => {
    await slackSetup();
    const start = await snapshot();
    for (const [type, body] of [
      ['application/json', 'null'],
      ['application/json', '[]'],
      ['application/json', '"x"'],
      ['application/x-www-form-urlencoded', 'payload=null'],
    ] as const) {
      const res = await slackPost(body, slackSignature(SLACK_SECRET, body), { contentType: type });
      expect([res.status, res.json?.error?.code], body).toEqual([400, 'invalid_request']);
    }
    expect(await snapshot()).toEqual(start);
  });

  it('an exact replay of a signed /pause is acknowledged (200, empty) and changes nothing; the first copy paused once', async () => {
    const { ws, owner, bob } = await slackSetup();
    const form = forgedCommand(owner, '/pause', 'bob full replayed');
    const headers = slackSignature(SLACK_SECRET, form);
    const first = await slackPost(form, headers);
    expect([first.status, first.json?.text]).toEqual([200, expect.stringContaining('Paused bob (full) — replayed.')]);
    expect(await actions('agent.paused', { agentId: bob.id, channel: 'slack' })).toBe(1);
    // Unpaused through the API, so that a replay that got through would pause it again.
    expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
    const before = await snapshot();
    for (let i = 0; i < 3; i++) {
      const again = await slackPost(form, headers);
      expect([again.status, again.text]).toEqual([200, '']);
    }
    // A replay with a retry header is the same signed request: still a replay.
    expect(
      (await slackPost(form, { ...headers, 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' })).text,
    ).toBe('');
    await sleep(150);
    expect(await snapshot()).toEqual(before);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect(await actions('agent.paused', { agentId: bob.id })).toBe(1);
    expect(await outboxEvents('agent.paused', bob.id)).toBe(1);
    // The dedupe is of the signed request, not of the command: Slack's next /pause (a new request) works.
    const fresh = forgedCommand(owner, '/pause', 'bob full');
    expect((await slackPost(fresh, slackSignature(SLACK_SECRET, fresh))).json?.text).toContain('Paused bob (full)');
  });

  it('an exact replay of a signed approval click decides nothing again and says nothing', async () => {
    const { owner, bob } = await slackSetup();
    const a = await ask(bob.key, 'slack', 'C0FORGED');
    const id = a.body.pause_id as string;
    const click = forgedClick(owner, `${id}|0`);
    const headers = slackSignature(SLACK_SECRET, click.form);
    expect((await slackPost(click.form, headers)).status).toBe(200);
    await expect.poll(async () => (await approvalRow(id)).status).toBe('responded');
    expect((await approvalRow(id)).response_choice).toBe('Approve');
    await expect.poll(() => actions('approval.responded', { approvalId: id })).toBe(1);
    const decidedAt = (await approvalRow(id)).response_at;
    // A replay must not even be told "Already decided": it is not handled at all.
    const again = await slackPost(click.form, headers);
    expect([again.status, again.text]).toEqual([200, '']);
    await sleep(200);
    expect(slackResponsesTo(click.responseUrl)).toEqual([]);
    // Reopened by hand, so that a replay that got through would decide it again.
    await reopen(id);
    const before = await snapshot();
    expect((await slackPost(click.form, headers)).text).toBe('');
    await sleep(200);
    expect(await snapshot()).toEqual(before);
    expect((await approvalRow(id)).status).toBe('pending');
    expect(slackResponsesTo(click.responseUrl)).toEqual([]);
    expect(await actions('approval.responded', { approvalId: id })).toBe(1);
    expect(await outboxEvents('pause_request.responded', id)).toBe(1);
    expect(decidedAt).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Telegram

const tgUser = () => randomInt(100_000_000, 999_999_999);

async function deliver(update: unknown, secret: string | null = TG_SECRET, raw?: string) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/telegram/webhook',
    payload: raw ?? JSON.stringify(update),
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
    },
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}

const tgSeen = (id: number) =>
  t.deps.db
    .selectFrom('inbound_requests')
    .select('key')
    .where('source', '=', 'telegram')
    .where('key', '=', `${BOT_ID}:${id}`)
    .execute();

async function tgSetup() {
  const ws = await t.workspace();
  const owner = tgUser();
  await t.deps.db
    .updateTable('members')
    .set(confirmed({ telegram_user_id: String(owner) }))
    .where('id', '=', ws.ownerId)
    .execute();
  const bob = await ws.agent('bob');
  return { ws, owner, bob };
}

describe('Telegram: POST /telegram/webhook', () => {
  it('a missing or wrong secret token is refused (401) before the update is read, for a command and a button press; nothing changes', async () => {
    const { owner, bob } = await tgSetup();
    const a = await ask(bob.key, 'telegram', String(owner));
    expect(a.status).toBe(201);
    const updates = [
      tgMessage(owner, '/pause bob full'),
      tgPress(owner, `d:${a.body.pause_id}:0`),
      tgMessage(owner, `/link ABCDEFGH`),
    ];
    const wrongs: [string, string | null][] = [
      ['no header', null],
      ['an empty header', ''],
      ['a wrong secret', 'not-the-secret'],
      ['the secret in another case', TG_SECRET.toUpperCase()],
      ['the secret with a suffix', `${TG_SECRET}x`],
      ['a prefix of the secret', TG_SECRET.slice(0, -1)],
      ['the bot token', BOT_TOKEN],
    ];
    const calls = tg.calls.length;
    const start = await snapshot();
    for (const update of updates) {
      for (const [what, secret] of wrongs) {
        const res = await deliver(update, secret);
        expect(res.status, what).toBe(401);
        expect(res.body?.error?.code, what).toBe('unauthorized');
        expect(await tgSeen(update.update_id), what).toEqual([]);
      }
    }
    // Checked before the body is parsed: a body that is not even JSON is still a 401, not a 400.
    expect((await deliver(undefined, 'not-the-secret', '{"update_id": 1, "message": ')).status).toBe(401);
    expect((await deliver(undefined, null, 'not json at all')).status).toBe(401);
    await sleep(150);
    expect(await snapshot()).toEqual(start);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect((await approvalRow(a.body.pause_id)).status).toBe('pending');
    expect(tg.calls.length).toBe(calls);
  });

  it('a replayed update_id is handled once: the /pause does not pause again, the press does not decide again', async () => {
    const { ws, owner, bob } = await tgSetup();
    const pause = tgMessage(owner, '/pause bob full replayed');
    expect((await deliver(pause)).status).toBe(200);
    expect((await agentRow(bob.id)).pause_mode).toBe('full');
    expect(await actions('agent.paused', { agentId: bob.id, channel: 'telegram' })).toBe(1);
    const toOwner = () => tg.calls.filter((c) => c.method === 'sendMessage' && Number(c.args.chat_id) === owner).length;
    expect(toOwner()).toBe(1);
    expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
    let before = await snapshot();
    for (let i = 0; i < 3; i++) expect(await deliver(pause)).toEqual({ status: 200, body: { ok: true } });
    expect(await snapshot()).toEqual(before);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect(await actions('agent.paused', { agentId: bob.id })).toBe(1);
    expect(toOwner()).toBe(1);

    const a = await ask(bob.key, 'telegram', String(owner));
    const id = a.body.pause_id as string;
    const press = tgPress(owner, `d:${id}:1`);
    const answered = () =>
      tg.calls.filter(
        (c) => c.method === 'answerCallbackQuery' && c.args.callback_query_id === press.callback_query.id,
      );
    expect((await deliver(press)).status).toBe(200);
    expect((await approvalRow(id)).response_choice).toBe('Reject');
    expect(answered().map((c) => c.args.text)).toEqual(['Recorded: Reject']);
    await reopen(id);
    before = await snapshot();
    expect(await deliver(press)).toEqual({ status: 200, body: { ok: true } });
    await sleep(150);
    expect(await snapshot()).toEqual(before);
    expect((await approvalRow(id)).status).toBe('pending');
    expect(answered()).toHaveLength(1);
    expect(await actions('approval.responded', { approvalId: id })).toBe(1);
    expect(await outboxEvents('pause_request.responded', id)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Twilio

const phone = () => `+1555${randomInt(1_000_000, 9_999_999)}`;
const SMS_URL = `${PUBLIC_URL}/sms/twilio`;

function smsParams(from: string, body: string, sid = `SM${randomBytes(16).toString('hex')}`): Record<string, string> {
  return { AccountSid: ACCOUNT_SID, MessageSid: sid, From: from, To: FROM, Body: body, NumMedia: '0' };
}

async function sms(params: Record<string, string>, signature: string | null, headers: Record<string, string> = {}) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/sms/twilio',
    payload: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature === null ? {} : { 'x-twilio-signature': signature }),
      ...headers,
    },
  });
  let json: any;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, body: res.body, json, message: /<Message>([\s\S]*)<\/Message>/.exec(res.body)?.[1] };
}

/** Every way to forge a request whose genuine parameters are `params` and that the attacker would
 *  rather send as `wanted`: [what, params sent, signature, extra headers]. */
function twilioForgeries(
  params: Record<string, string>,
  wanted: Record<string, string>,
): [string, Record<string, string>, string | null, Record<string, string>][] {
  const good = twilioSignature(AUTH_TOKEN, SMS_URL, params);
  return [
    ['a wrong signature', params, randomBytes(20).toString('base64'), {}],
    [
      'a signature made with another auth token',
      params,
      twilioSignature('another-accounts-auth-token', SMS_URL, params),
      {},
    ],
    [
      'a signature over the URL Leash listens on, not PUBLIC_URL',
      params,
      twilioSignature(AUTH_TOKEN, 'http://localhost/sms/twilio', params),
      {},
    ],
    [
      'a signature over another host, sent with that Host header',
      params,
      twilioSignature(AUTH_TOKEN, 'https://evil.example/sms/twilio', params),
      { host: 'evil.example' },
    ],
    [
      'a signature over http:// instead of https://',
      params,
      twilioSignature(AUTH_TOKEN, SMS_URL.replace('https:', 'http:'), params),
      {},
    ],
    ['a signature over another path', params, twilioSignature(AUTH_TOKEN, `${PUBLIC_URL}/sms/twilio/`, params), {}],
    ['a parameter altered after signing', wanted, good, {}],
    ['a parameter added after signing', { ...params, ForwardedFrom: '+15550000000' }, good, {}],
    [
      'a parameter removed after signing',
      Object.fromEntries(Object.entries(params).filter(([k]) => k !== 'NumMedia')),
      good,
      {},
    ],
    ['no signature', params, null, {}],
    ['an empty signature', params, '', {}],
  ];
}

describe('Twilio: POST /sms/twilio', () => {
  it('forged replies and commands are refused (401) in every form, and nothing changes', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const ownerPhone = phone();
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ phone: ownerPhone }))
      .where('id', '=', ws.ownerId)
      .execute();
    const to = phone();
    const a = await ask(bob.key, 'sms', to);
    expect(a.status).toBe(201);
    const reply = smsParams(to, '2');
    const command = smsParams(ownerPhone, 'STATUS');
    const stranger = smsParams(phone(), '1');
    const scenarios: [Record<string, string>, Record<string, string>][] = [
      [reply, { ...reply, Body: '1' }], // the recipient's "Reject", turned into "Approve"
      [stranger, { ...stranger, From: to }], // a stranger's "1", passed off as the recipient's
      [command, { ...command, Body: 'PAUSE bob full' }], // the owner's STATUS, turned into a pause
      [command, { ...command, Body: 'HALT bob' }],
    ];
    const sent = twilio.sent.length;
    const start = await snapshot();
    for (const [params, wanted] of scenarios) {
      for (const [what, sentParams, signature, headers] of twilioForgeries(params, wanted)) {
        const res = await sms(sentParams, signature, headers);
        expect(res.status, what).toBe(401);
        expect(res.json?.error?.code, what).toBe('unauthorized');
        expect(res.message, what).toBeUndefined();
        expect(await snapshot(), what).toEqual(start);
      }
      // The wanted request signed with the wrong key, too.
      expect((await sms(wanted, twilioSignature('x', SMS_URL, wanted))).status).toBe(401);
    }
    await sleep(150);
    expect(await snapshot()).toEqual(start);
    expect((await approvalRow(a.body.pause_id)).status).toBe('pending');
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect((await agentRow(bob.id)).run_state).toBe('running');
    expect(twilio.sent.length).toBe(sent);
    // The genuine requests themselves are accepted (the forgeries were refused for their forgery).
    expect((await sms(command, twilioSignature(AUTH_TOKEN, SMS_URL, command))).message).toMatch(/^bob: active/);
  });

  it('a correctly signed request with a repeated parameter is refused (400), not a 500, and changes nothing', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const to = phone();
    const a = await ask(bob.key, 'sms', to);
    // Twilio's algorithm for a repeated parameter: each of its values, sorted, after the name.
    const pairs: [string, string][] = [
      ['AccountSid', ACCOUNT_SID],
      ['Body', '1'],
      ['Body', '2'],
      ['From', to],
      ['MessageSid', `SM${randomBytes(16).toString('hex')}`],
      ['To', FROM],
    ];
    const signature = createHmac('sha1', AUTH_TOKEN)
      .update(pairs.reduce((acc, [k, v]) => acc + k + v, SMS_URL))
      .digest('base64');
    const start = await snapshot();
    const res = await t.app.inject({
      method: 'POST',
      url: '/sms/twilio',
      payload: new URLSearchParams(pairs).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    });
    expect([res.statusCode, JSON.parse(res.body).error.code]).toEqual([400, 'invalid_request']);
    expect(await snapshot()).toEqual(start);
    expect((await approvalRow(a.body.pause_id)).status).toBe('pending');
  });

  it('a replayed MessageSid is handled once: a reply decides once, a PAUSE pauses once', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const ownerPhone = phone();
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ phone: ownerPhone }))
      .where('id', '=', ws.ownerId)
      .execute();

    const pause = smsParams(ownerPhone, 'PAUSE bob full');
    const pauseSig = twilioSignature(AUTH_TOKEN, SMS_URL, pause);
    expect((await sms(pause, pauseSig)).message).toMatch(/^Paused bob \(full\)/);
    expect((await t.call('POST', `/v1/agents/${bob.id}/unpause`, { key: ws.ownerKey })).status).toBe(200);
    let before = await snapshot();
    for (let i = 0; i < 3; i++) {
      const again = await sms(pause, pauseSig);
      expect(again.status).toBe(200);
      expect(again.message).toBeUndefined(); // an empty TwiML reply
      expect(again.body).toContain('<Response/>');
    }
    expect(await snapshot()).toEqual(before);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
    expect(await actions('agent.paused', { agentId: bob.id })).toBe(1);

    const to = phone();
    const a = await ask(bob.key, 'sms', to);
    const id = a.body.pause_id as string;
    const reply = smsParams(to, '1');
    const replySig = twilioSignature(AUTH_TOKEN, SMS_URL, reply);
    expect((await sms(reply, replySig)).message).toBe('Recorded: Approve. Thank you.');
    await reopen(id);
    before = await snapshot();
    const again = await sms(reply, replySig);
    expect([again.status, again.message]).toEqual([200, undefined]);
    expect(await snapshot()).toEqual(before);
    expect((await approvalRow(id)).status).toBe('pending');
    expect(await actions('approval.responded', { approvalId: id })).toBe(1);
    expect(await outboxEvents('pause_request.responded', id)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// The receiver's side of Leash's outbound webhooks

describe('outbound webhooks, at the receiver', () => {
  it('Webhook.verify with the endpoint secret accepts Leash’s real delivery and refuses a forged signature, a tampered body and a stale or future timestamp', async () => {
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const ws = await t.workspace();
    const created = await t.call('POST', '/v1/webhooks', {
      key: ws.ownerKey,
      body: { url: `${r.url}/hook`, events: ['agent.paused'] },
    });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    const receiverSide = new Webhook(secret);
    const verdict = (req: Pick<Received, 'headers' | 'body'>): string => {
      try {
        receiverSide.verify(req.body, req.headers as Record<string, string>);
        return 'ok';
      } catch (err) {
        return err instanceof WebhookVerificationError ? err.message : `unexpected ${String(err)}`;
      }
    };
    // The receiver answers as a careful one would: 401 unless the signature holds.
    r.respond = (req) => (verdict(req) === 'ok' ? 204 : 401);

    await worker();
    const bob = await ws.agent('bob');
    expect(
      (
        await t.call('POST', `/v1/agents/${bob.id}/pause`, {
          key: ws.ownerKey,
          body: { mode: 'full', reason: 'audit' },
        })
      ).status,
    ).toBe(200);
    await expect.poll(() => r.requests.length).toBe(1);
    const genuine = r.requests[0]!;
    const headers = genuine.headers as Record<string, string>;
    expect(receiverSide.verify(genuine.body, headers)).toMatchObject({
      type: 'agent.paused',
      data: { id: bob.id, pause: { mode: 'full', reason: 'audit' } },
    });
    // Leash saw the receiver's 2xx.
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('deliveries')
              .select('status')
              .where('workspace_id', '=', ws.id)
              .executeTakeFirstOrThrow()
          ).status,
      )
      .toBe('succeeded');

    const now = Math.floor(Date.now() / 1000);
    const id = headers['webhook-id']!;
    const tampered = genuine.body.replace('"mode":"full"', '"mode":"send"');
    expect(tampered).not.toBe(genuine.body);
    const other = new Webhook(`whsec_${randomBytes(24).toString('base64')}`);
    const forgeries: [string, Record<string, string>, string, string][] = [
      [
        'a forged signature',
        { ...headers, 'webhook-signature': `v1,${randomBytes(32).toString('base64')}` },
        genuine.body,
        'No matching signature found',
      ],
      [
        'a signature made with another secret',
        { ...headers, 'webhook-signature': other.sign(id, new Date(now * 1000), genuine.body) },
        genuine.body,
        'No matching signature found',
      ],
      ['a tampered body', headers, tampered, 'No matching signature found'],
      [
        'the same JSON, re-serialized with whitespace',
        headers,
        JSON.stringify(JSON.parse(genuine.body), null, 1),
        'No matching signature found',
      ],
      ['another webhook-id', { ...headers, 'webhook-id': `${id}x` }, genuine.body, 'No matching signature found'],
      [
        'a timestamp moved after signing',
        { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) },
        genuine.body,
        'No matching signature found',
      ],
      [
        'a correctly signed, 6-minute-old timestamp',
        {
          ...headers,
          'webhook-timestamp': String(now - 360),
          'webhook-signature': receiverSide.sign(id, new Date((now - 360) * 1000), genuine.body),
        },
        genuine.body,
        'Message timestamp too old',
      ],
      [
        'a correctly signed timestamp 6 minutes ahead',
        {
          ...headers,
          'webhook-timestamp': String(now + 360),
          'webhook-signature': receiverSide.sign(id, new Date((now + 360) * 1000), genuine.body),
        },
        genuine.body,
        'Message timestamp too new',
      ],
      [
        'a v2 signature with the right value',
        { ...headers, 'webhook-signature': headers['webhook-signature']!.replace(/^v1,/, 'v2,') },
        genuine.body,
        'No matching signature found',
      ],
      [
        'no signature',
        Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'webhook-signature')),
        genuine.body,
        'Missing required headers',
      ],
    ];
    for (const [what, h, body, why] of forgeries) {
      expect(verdict({ headers: h, body }), what).toBe(why);
      // And over HTTP, at the receiver: refused.
      const res = await fetch(`${r.url}/hook`, {
        method: 'POST',
        headers: { ...pick(h), 'content-type': 'application/json' },
        body,
      });
      expect(res.status, what).toBe(401);
    }
    // The genuine delivery itself, replayed 6 minutes later, is stale.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 6 * 60_000);
      expect(verdict(genuine)).toBe('Message timestamp too old');
    } finally {
      vi.useRealTimers();
    }
    // Within the window it still verifies (a receiver dedupes by webhook-id), and Leash sent it once.
    expect(verdict(genuine)).toBe('ok');
    expect(
      r.requests.filter((q) => q.headers['webhook-id'] === id && q.headers['user-agent'] === 'Leash-Webhooks/1'),
    ).toHaveLength(1);
  });
});

/** The Standard Webhooks headers of a request, to send them again. */
function pick(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith('webhook-')));
}
