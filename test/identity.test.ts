// Chat identities across workspaces (contract §3.7 v1.1): an identity an owner sets is a claim
// that never acts until its holder confirms it from that identity with a link code; nothing one
// workspace does changes what an identity can do in another; a person confirmed in several
// workspaces names one (`acme/bob`) or uses a default they chose. Slack, Telegram and SMS through
// their fakes on loopback, requests signed as the vendors sign them.
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp, type Workspace } from './support/app.js';
import { clickForm, commandForm, slackSignature, startFakeSlack } from './support/fake-slack.js';
import { startFakeTelegram, tgMessage, tgPress } from './support/fake-telegram.js';
import { ACCOUNT_SID, AUTH_TOKEN, FROM, inboundSms, startFakeTwilio } from './support/fake-twilio.js';
import { confirmed } from './support/identities.js';

const SLACK_SECRET = 'identity-slack-secret';
const TG_SECRET = 'identity-telegram-secret';
const PUBLIC_URL = 'https://leash.example.test';
const TEAM = 'T0IDENT01';
const slack = await startFakeSlack();
const tg = await startFakeTelegram();
const twilio = await startFakeTwilio();
const t = useTestApp({
  SLACK_SIGNING_SECRET: SLACK_SECRET,
  SLACK_BOT_TOKEN: 'xoxb-identity',
  SLACK_API_URL: slack.apiUrl,
  TELEGRAM_BOT_TOKEN: '4242:test-token-for-the-fake',
  TELEGRAM_WEBHOOK_SECRET: TG_SECRET,
  TELEGRAM_API_ROOT: tg.url,
  TWILIO_ACCOUNT_SID: ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  TWILIO_FROM: FROM,
  TWILIO_API_URL: twilio.url,
  PUBLIC_URL,
});
afterAll(async () => {
  await slack.close();
  await tg.close();
  await twilio.close();
});

const tgUser = () => randomInt(10_000_000, 99_999_999);
const phone = () => `+1555${randomInt(1_000_000, 9_999_999)}`;
const slackUser = () => `U${randomBytes(4).toString('hex').toUpperCase()}`;

/** A Telegram message from `user`; what the bot replied to that chat. */
async function telegram(user: number, text: string): Promise<string> {
  const from = tg.calls.length;
  const res = await t.app.inject({
    method: 'POST',
    url: '/telegram/webhook',
    payload: JSON.stringify(tgMessage(user, text)),
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TG_SECRET },
  });
  expect(res.statusCode).toBe(200);
  return tg.calls
    .slice(from)
    .filter((c) => c.method === 'sendMessage' && Number(c.args.chat_id) === user)
    .map((c) => c.args.text as string)
    .join('\n---\n');
}

/** A button press; the text it was answered with. */
async function press(user: number, approvalId: string, option = 0): Promise<string> {
  const from = tg.calls.length;
  await t.app.inject({
    method: 'POST',
    url: '/telegram/webhook',
    payload: JSON.stringify(tgPress(user, `d:${approvalId}:${option}`)),
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TG_SECRET },
  });
  return tg.calls.slice(from).find((c) => c.method === 'answerCallbackQuery')?.args.text as string;
}

/** An inbound SMS; the TwiML reply's text. */
async function sms(from: string, body: string): Promise<string> {
  const res = await inboundSms(t.app, PUBLIC_URL, from, body);
  expect(res.status).toBe(200);
  return res.text;
}

/** A Slack slash command; the ephemeral reply (Slack's mrkdwn escapes undone). */
async function slashCommand(user: string, cmd: string, text = ''): Promise<string> {
  const form = commandForm({
    team: TEAM,
    user,
    command: cmd,
    text,
    channel: 'C0IDENT',
    responseUrl: `${slack.url}/respond/${randomBytes(4).toString('hex')}`,
  });
  const res = await t.app.inject({
    method: 'POST',
    url: '/slack/events',
    payload: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SLACK_SECRET, form) },
  });
  expect(res.statusCode).toBe(200);
  return String(res.json().text).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A click on an approval's button that is refused; what Slack was told (ephemerally, after the ack). */
async function refusedClick(user: string, approvalId: string): Promise<string> {
  const responseUrl = `${slack.url}/respond/click-${randomBytes(4).toString('hex')}`;
  const form = clickForm({ team: TEAM, user, value: `${approvalId}|0`, index: 0, channel: 'C0IDENT', responseUrl });
  await t.app.inject({
    method: 'POST',
    url: '/slack/events',
    payload: form,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignature(SLACK_SECRET, form) },
  });
  const told = () => slack.responses.find((r) => responseUrl.endsWith(r.path))?.body.text as string | undefined;
  await expect.poll(told).toBeDefined();
  return told()!;
}

const agentRow = (id: string) =>
  t.deps.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const approval = async (key: string, id: string) => (await t.call('GET', `/v1/pause/${id}`, { key })).body;
const ask = (key: string, channel: string, recipient: string) =>
  t.call('POST', '/v1/pause', {
    key,
    body: { recipient, channel, message: 'Ship it?', options: ['Yes', 'No'], timeout_seconds: 600 },
  });
const codeFor = async (key: string): Promise<string> =>
  (await t.call('POST', '/v1/members/me/link-codes', { key })).body.code;
const memberOf = async (ws: Workspace, id: string) =>
  (await t.call('GET', `/v1/members/${id}`, { key: ws.ownerKey })).body;

/** What a workspace is, read from the tables: its members, agents and timeline. */
async function snapshotOf(workspaceId: string) {
  const db = t.deps.db;
  return {
    members: await db.selectFrom('members').selectAll().where('workspace_id', '=', workspaceId).orderBy('id').execute(),
    agents: await db.selectFrom('agents').selectAll().where('workspace_id', '=', workspaceId).orderBy('id').execute(),
    activity: await db
      .selectFrom('activity')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .orderBy('id')
      .execute(),
  };
}

/** The owner of a new workspace holding a Telegram account, a phone and a Slack user, each confirmed. */
async function confirmedOwner(name = 'Acme') {
  const ws = await t.workspace(name);
  const ids = { user: tgUser(), phone: phone(), slack: slackUser() };
  await t.deps.db
    .updateTable('members')
    .set(
      confirmed({
        telegram_user_id: String(ids.user),
        phone: ids.phone,
        slack_team_id: TEAM,
        slack_user_id: ids.slack,
      }),
    )
    .where('id', '=', ws.ownerId)
    .execute();
  return { ws, ...ids };
}

describe('another workspace cannot take over or block an identity', () => {
  it('an owner of B sets A’s owner’s Telegram id, phone and Slack user on a B member: A’s owner still pauses and halts in A, the claim acts nowhere, and nothing in A changes', async () => {
    const a = await confirmedOwner('Acme');
    const aBob = await a.ws.agent('bob');
    const b = await t.workspace('Evil Corp');
    const bBob = await b.agent('bob');
    const before = await snapshotOf(a.ws.id);

    // The claim is B's own business: allowed, stored unconfirmed.
    const claim = await t.call('POST', '/v1/members', {
      key: b.ownerKey,
      body: {
        email: `mallory-${randomBytes(3).toString('hex')}@evil.example`,
        role: 'owner',
        telegram: { user_id: a.user },
        phone: a.phone,
        slack: { team_id: TEAM, user_id: a.slack },
      },
    });
    expect(claim.status).toBe(201);
    expect(claim.body.member).toMatchObject({
      phone_confirmed: false,
      telegram: { confirmed: false },
      slack: { confirmed: false },
    });
    expect(await snapshotOf(a.ws.id)).toEqual(before);

    // A's owner's emergency stop works exactly as before, in A, with no workspace named.
    expect(await telegram(a.user, '/pause bob')).toMatch(/^Paused bob \(send\)\./);
    expect(await slashCommand(a.slack, '/unpause', 'bob')).toMatch(/^Unpaused bob\./);
    expect(await sms(a.phone, 'HALT bob')).toMatch(/^Stopped bob\./);
    expect((await agentRow(aBob.id)).run_state).toBe('stopped');
    // Workspace B's bob was never touched through the claimed identities.
    expect(await agentRow(bBob.id)).toMatchObject({ pause_mode: null, run_state: 'running' });

    // The claim cannot act in B either: B's approvals pressed or answered from those identities
    // are not decided as B's member.
    const onTelegram = await ask(bBob.key, 'telegram', String(a.user));
    expect(await press(a.user, onTelegram.body.pause_id)).toBe(
      'Your Telegram account is not linked to this workspace, or not confirmed yet, so nothing was changed. To link or confirm it, send /link CODE here, with a code from POST /v1/members/me/link-codes.',
    );
    expect((await approval(b.ownerKey, onTelegram.body.pause_id)).status).toBe('pending');
    const onSlack = await ask(bBob.key, 'slack', 'C0IDENT');
    expect(await refusedClick(a.slack, onSlack.body.pause_id)).toContain(
      'Your Slack account is not linked to this workspace, or not confirmed yet, so nothing was changed.',
    );
    expect((await approval(b.ownerKey, onSlack.body.pause_id)).status).toBe('pending');
    // SMS answers come from the recipient number (unchanged), but are not credited to B's member.
    const bySms = await ask(bBob.key, 'sms', a.phone);
    expect(await sms(a.phone, '1')).toBe('Recorded: Yes. Thank you.');
    expect((await approval(b.ownerKey, bySms.body.pause_id)).responder).toEqual({ channel: 'sms', display: a.phone });

    // A's members are as they were; its timeline has only A's owner's own actions.
    const after = await snapshotOf(a.ws.id);
    expect(after.members).toEqual(before.members);
    expect(
      after.activity.slice(before.activity.length).every((r) => (r.actor as { id: string }).id === a.ws.ownerId),
    ).toBe(true);
  });

  it('a claimed identity that is confirmed nowhere gets the refusal with how to confirm, which names no workspace', async () => {
    const b = await t.workspace('Evil Corp');
    await b.agent('bob');
    const user = tgUser();
    const number = phone();
    const slackId = slackUser();
    await b.member('owner', { telegram: { user_id: user }, phone: number, slack: { team_id: TEAM, user_id: slackId } });
    const replies = [
      await telegram(user, '/pause bob'),
      await sms(number, 'PAUSE bob'),
      await slashCommand(slackId, '/pause', 'bob'),
      await telegram(user, '/use evil-corp'),
    ];
    expect(replies[0]).toBe(
      'Your Telegram account is not linked to a Leash member, or not confirmed yet, so nothing was changed. To link or confirm it, send /link CODE here, with a code from POST /v1/members/me/link-codes.',
    );
    expect(replies[1]).toContain('send LINK CODE by SMS from this phone, with a code');
    expect(replies[2]).toContain('send /leash link CODE here, with a code');
    for (const reply of replies) {
      expect(reply).toContain('not linked to a Leash member, or not confirmed yet, so nothing was changed.');
      expect(reply.toLowerCase()).not.toMatch(/evil/);
    }
    // Word for word what an identity nobody ever heard of is told.
    expect(await telegram(tgUser(), '/pause bob')).toBe(replies[0]);
  });
});

describe('an unconfirmed identity never acts', () => {
  it('the owner’s own PATCH of their Telegram id, phone and Slack user does not let them act until confirmed', async () => {
    const ws = await t.workspace();
    const bob = await ws.agent('bob');
    const ids = { user: tgUser(), phone: phone(), slack: slackUser() };
    const res = await t.call('PATCH', `/v1/members/${ws.ownerId}`, {
      key: ws.ownerKey,
      body: { telegram: { user_id: ids.user }, phone: ids.phone, slack: { team_id: TEAM, user_id: ids.slack } },
    });
    expect(res.body).toMatchObject({
      phone: ids.phone,
      phone_confirmed: false,
      telegram: { user_id: String(ids.user), confirmed: false },
      slack: { confirmed: false },
    });

    expect(await telegram(ids.user, '/pause bob')).toContain('/link CODE');
    expect(await telegram(ids.user, '/status')).toContain('not confirmed yet');
    expect(await sms(ids.phone, 'HALT bob')).toContain('LINK CODE');
    expect(await slashCommand(ids.slack, '/stop', 'bob force')).toContain('/leash link CODE');
    expect(await agentRow(bob.id)).toMatchObject({ pause_mode: null, run_state: 'running' });

    // The workspace's own approvals, pressed from the unconfirmed identities, are refused.
    const approver = await ws.member('approver');
    const onTelegram = await ask(approver.key, 'telegram', String(ids.user));
    expect(await press(ids.user, onTelegram.body.pause_id)).toContain('or not confirmed yet');
    const onSlack = await ask(approver.key, 'slack', 'C0IDENT');
    expect(await refusedClick(ids.slack, onSlack.body.pause_id)).toContain('or not confirmed yet');
    for (const a of [onTelegram, onSlack])
      expect((await approval(ws.ownerKey, a.body.pause_id)).status).toBe('pending');
    // By SMS the recipient number answers, credited to the number, not to the member.
    const bySms = await ask(approver.key, 'sms', ids.phone);
    expect(await sms(ids.phone, '2')).toBe('Recorded: No. Thank you.');
    expect((await approval(ws.ownerKey, bySms.body.pause_id)).responder).toEqual({
      channel: 'sms',
      display: ids.phone,
    });
  });

  it('a changed identity loses its confirmation; one set to the same value keeps it; null unlinks', async () => {
    const a = await confirmedOwner();
    await a.ws.agent('bob');
    const same = await t.call('PATCH', `/v1/members/${a.ws.ownerId}`, {
      key: a.ws.ownerKey,
      body: { phone: a.phone, telegram: { user_id: String(a.user) } },
    });
    expect(same.body).toMatchObject({ phone_confirmed: true, telegram: { confirmed: true } });
    expect(await sms(a.phone, 'STATUS')).toMatch(/^bob: active/);

    const moved = phone();
    const changed = await t.call('PATCH', `/v1/members/${a.ws.ownerId}`, {
      key: a.ws.ownerKey,
      body: { phone: moved, telegram: { user_id: tgUser() } },
    });
    expect(changed.body).toMatchObject({
      phone: moved,
      phone_confirmed: false,
      telegram: { confirmed: false },
      slack: { confirmed: true },
    });
    expect(await sms(moved, 'STATUS')).toContain('not confirmed yet');
    expect(await sms(a.phone, 'STATUS')).toContain('not confirmed yet');
    const updated = await t.deps.db
      .selectFrom('activity')
      .selectAll()
      .where('workspace_id', '=', a.ws.id)
      .where('action', '=', 'member.updated')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(updated.details).toMatchObject({ member_id: a.ws.ownerId, unconfirmed: ['phone', 'telegram'] });

    const unlinked = await t.call('PATCH', `/v1/members/${a.ws.ownerId}`, {
      key: a.ws.ownerKey,
      body: { slack: null },
    });
    expect(unlinked.body).toMatchObject({ slack: null });
    const row = await t.deps.db
      .selectFrom('members')
      .selectAll()
      .where('id', '=', a.ws.ownerId)
      .executeTakeFirstOrThrow();
    expect(row.slack_confirmed_at).toBeNull();
  });
});

describe('confirming with a link code, from the identity itself', () => {
  it('/link in Telegram, /leash link in Slack and LINK by SMS confirm what an owner set, on the code’s member, with a timeline entry each', async () => {
    const ws = await t.workspace('Acme');
    const bob = await ws.agent('bob');
    const ids = { user: tgUser(), phone: phone(), slack: slackUser() };
    await t.call('PATCH', `/v1/members/${ws.ownerId}`, {
      key: ws.ownerKey,
      body: { telegram: { user_id: ids.user }, phone: ids.phone, slack: { team_id: TEAM, user_id: ids.slack } },
    });

    const code = await t.call('POST', '/v1/members/me/link-codes', { key: ws.ownerKey });
    expect(code.body.how).toContain(`by SMS from your phone: LINK ${code.body.code} to ${FROM}`);
    expect(await sms(ids.phone, `link ${code.body.code.toLowerCase()}`)).toMatch(
      /^Linked and confirmed: this phone number now acts as owner-.*@example\.com \(owner\) in Acme\.$/,
    );
    expect(await telegram(ids.user, `/link ${await codeFor(ws.ownerKey)}`)).toMatch(
      /^Linked and confirmed: this Telegram account now acts as owner-.* \(owner\) in Acme\.$/,
    );
    expect(await slashCommand(ids.slack, '/leash', `link ${await codeFor(ws.ownerKey)}`)).toMatch(
      /^Linked and confirmed: this Slack account now acts as owner-.* \(owner\) in Acme\.$/,
    );
    expect(await memberOf(ws, ws.ownerId)).toMatchObject({
      phone: ids.phone,
      phone_confirmed: true,
      telegram: { user_id: String(ids.user), confirmed: true },
      slack: { team_id: TEAM, user_id: ids.slack, confirmed: true },
    });
    const entries = await t.deps.db
      .selectFrom('activity')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .where('action', '=', 'member.confirmed')
      .orderBy('id')
      .execute();
    expect(entries.map((e) => [e.channel, e.details])).toEqual([
      ['sms', { member_id: ws.ownerId, identity: 'phone' }],
      ['telegram', { member_id: ws.ownerId, identity: 'telegram' }],
      ['slack', { member_id: ws.ownerId, identity: 'slack' }],
    ]);

    expect(await sms(ids.phone, 'PAUSE bob full')).toMatch(/^Paused bob \(full\)\./);
    expect(await telegram(ids.user, '/unpause bob')).toMatch(/^Unpaused bob\./);
    expect(await slashCommand(ids.slack, '/status', 'bob')).toMatch(/^bob: active/);
    expect((await agentRow(bob.id)).pause_mode).toBeNull();
  });

  it('LINK by SMS from a new phone links it to the code’s member, confirmed (member.linked); a spent, wrong or missing code is refused', async () => {
    const ws = await t.workspace('Acme');
    const approver = await ws.member('approver');
    const number = phone();
    const code = await codeFor(approver.key);
    expect(await sms(number, `LINK ${code}`)).toMatch(
      /^Linked and confirmed: this phone number now acts as approver-.* \(approver\) in Acme\.$/,
    );
    expect(await memberOf(ws, approver.id)).toMatchObject({ phone: number, phone_confirmed: true });
    const linked = await t.deps.db
      .selectFrom('activity')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .where('action', '=', 'member.linked')
      .execute();
    expect(linked.map((e) => [e.channel, e.details])).toEqual([['sms', { member_id: approver.id, identity: 'phone' }]]);
    // The owner was not touched: a code is for the member who asked for it.
    expect(await memberOf(ws, ws.ownerId)).toMatchObject({ phone: null, phone_confirmed: false });

    expect(await sms(phone(), `LINK ${code}`)).toContain('That code is not valid');
    expect(await sms(phone(), 'LINK NOPE2345')).toContain('That code is not valid');
    expect(await sms(number, 'LINK')).toBe('Usage: LINK <code> (get a code with POST /v1/members/me/link-codes)');
    expect(await sms(number, 'HELP')).toContain('LINK <code> confirms this number');
  });
});

describe('a person confirmed in several workspaces', () => {
  /** One Telegram account, phone and Slack user, confirmed for the owners of Acme and Beta (no
   *  default chosen), and claimed by an owner of Gamma (not confirmed there). */
  async function twoWorkspaces() {
    const acme = await confirmedOwner('Acme');
    const beta = await t.workspace('Beta');
    await t.deps.db
      .updateTable('members')
      .set(
        confirmed({
          telegram_user_id: String(acme.user),
          phone: acme.phone,
          slack_team_id: TEAM,
          slack_user_id: acme.slack,
        }),
      )
      .where('id', '=', beta.ownerId)
      .execute();
    const gamma = await t.workspace('Gamma');
    await gamma.member('owner', { telegram: { user_id: acme.user }, phone: acme.phone });
    const bobs = { acme: await acme.ws.agent('bob'), beta: await beta.agent('bob'), gamma: await gamma.agent('bob') };
    return { ...acme, acme: acme.ws, beta, gamma, bobs };
  }
  const paused = async (id: string) => (await agentRow(id)).pause_mode;

  it('a command naming no workspace is refused, naming their own workspaces only and both ways out; acme/bob acts in acme', async () => {
    const p = await twoWorkspaces();
    expect(await telegram(p.user, '/pause bob')).toBe(
      'You are a confirmed member of 2 Leash workspaces (acme, beta), so nothing was changed: name one in the command (/pause acme/bob) or choose a default (/use acme).',
    );
    expect(await sms(p.phone, 'HALT bob')).toBe(
      'You are a confirmed member of 2 Leash workspaces (acme, beta), so nothing was changed: name one in the command (HALT acme/bob) or choose a default (USE acme).',
    );
    expect(await slashCommand(p.slack, '/status')).toContain('(/status acme/) or choose a default (/leash use acme)');
    expect(await telegram(p.user, '/approvals')).toContain('(/approvals acme)');
    for (const b of Object.values(p.bobs)) expect(await paused(b.id)).toBeNull();

    expect(await telegram(p.user, '/pause acme/bob full')).toMatch(/^In acme: Paused bob \(full\)\./);
    expect(await sms(p.phone, 'PAUSE Beta/bob')).toMatch(/^In beta: Paused bob \(send\)\./);
    expect([await paused(p.bobs.acme.id), await paused(p.bobs.beta.id), await paused(p.bobs.gamma.id)]).toEqual([
      'full',
      'send',
      null,
    ]);
    // By id, too.
    expect(await slashCommand(p.slack, '/unpause', `${p.beta.id}/bob`)).toMatch(/^In beta: Unpaused bob\./);
    // A workspace that only claims the identity is not theirs: refused, listing only their own.
    const refused = await telegram(p.user, '/pause gamma/bob');
    expect(refused).toBe(
      'None of your Leash workspaces is called “gamma” (yours: acme, beta), so nothing was changed.',
    );
    expect(await paused(p.bobs.gamma.id)).toBeNull();
  });

  it('/status and /approvals take the same choice: /status acme/, /status beta/bob, /approvals beta, STATUS acme/', async () => {
    const p = await twoWorkspaces();
    await p.beta.agent('carol');
    const asked = await ask(p.bobs.beta.key, 'web', 'ops@example.com');
    expect(await telegram(p.user, '/status acme/')).toBe('In acme: bob: active · offline');
    expect(await slashCommand(p.slack, '/status', 'beta/')).toBe(
      'In beta: bob: active · offline\ncarol: active · offline',
    );
    expect(await telegram(p.user, '/status beta/bob')).toBe(
      'In beta: bob: active · offline\nopen sessions: 0 · pending approvals: 1',
    );
    expect(await sms(p.phone, 'STATUS acme/')).toBe('In acme: bob: active · offline');
    expect(await slashCommand(p.slack, '/approvals', 'acme')).toBe('In acme: No pending approvals.');
    const from = tg.calls.length;
    await telegram(p.user, '/approvals beta');
    expect(
      tg.calls
        .slice(from)
        .some(
          (c) => c.method === 'sendMessage' && JSON.stringify(c.args.reply_markup ?? {}).includes(asked.body.pause_id),
        ),
    ).toBe(true);
  });

  it('a default they choose (/use, /leash use, USE) takes commands naming no workspace, per identity; it can be changed, shown and forgotten', async () => {
    const p = await twoWorkspaces();
    expect(await telegram(p.user, '/use')).toBe(
      'You have no default workspace. Yours: acme, beta. Choose one with /use <workspace>.',
    );
    expect(await telegram(p.user, '/use beta')).toBe('Commands that name no workspace now go to beta.');
    expect(await telegram(p.user, '/pause bob')).toMatch(/^In beta: Paused bob \(send\)\./);
    expect([await paused(p.bobs.acme.id), await paused(p.bobs.beta.id)]).toEqual([null, 'send']);
    // Each identity chooses for itself: the phone has chosen nothing yet.
    expect(await sms(p.phone, 'HALT bob')).toContain('You are a confirmed member of 2 Leash workspaces (acme, beta)');
    expect(await sms(p.phone, 'USE acme')).toBe('Commands that name no workspace now go to acme.');
    expect(await sms(p.phone, 'PAUSE bob full')).toMatch(/^In acme: Paused bob \(full\)\./);
    expect([await paused(p.bobs.acme.id), await paused(p.bobs.beta.id)]).toEqual(['full', 'send']);
    expect(await sms(p.phone, 'USE')).toBe(
      'Commands that name no workspace go to acme, your default. Yours: acme, beta. Change it with USE <workspace>, or forget it with USE none.',
    );
    // A named workspace still wins over the default.
    expect(await sms(p.phone, 'STATUS beta/bob')).toMatch(/^In beta: bob: paused \(send\)/);

    // Changed: Telegram's bare commands now go to acme.
    expect(await telegram(p.user, '/use acme')).toBe('Commands that name no workspace now go to acme.');
    expect(await telegram(p.user, '/unpause bob')).toMatch(/^In acme: Unpaused bob\./);
    expect([await paused(p.bobs.acme.id), await paused(p.bobs.beta.id)]).toEqual([null, 'send']);
    expect(await slashCommand(p.slack, '/leash', 'use beta')).toBe('Commands that name no workspace now go to beta.');
    expect(await slashCommand(p.slack, '/stop', 'bob force')).toMatch(/^In beta: Stopped bob \(forced\)\./);
    expect((await agentRow(p.bobs.acme.id)).run_state).toBe('running');

    // Only among their own workspaces.
    expect(await telegram(p.user, '/use gamma')).toBe(
      'None of your Leash workspaces is called “gamma” (yours: acme, beta), so nothing was changed.',
    );
    expect(await telegram(p.user, '/use none')).toBe(
      'No default workspace now. Commands must name one of yours (acme, beta), e.g. /pause acme/<agent>.',
    );
    expect(await telegram(p.user, '/pause bob')).toContain(
      'You are a confirmed member of 2 Leash workspaces (acme, beta)',
    );
  });

  it('confirming a second workspace keeps bare commands going to the first (its default), and says so', async () => {
    const acme = await t.workspace('Acme');
    const acmeBob = await acme.agent('bob');
    const beta = await t.workspace('Beta');
    const betaBob = await beta.agent('bob');
    const user = tgUser();
    expect(await telegram(user, `/link ${await codeFor(acme.ownerKey)}`)).toMatch(/in Acme\.$/);
    expect(await telegram(user, `/link ${await codeFor(beta.ownerKey)}`)).toMatch(
      /in Beta\. Commands that name no workspace still go to acme, your default \(yours: acme, beta; change it with \/use <workspace>\)\.$/,
    );
    expect(await telegram(user, '/pause bob')).toMatch(/^In acme: Paused bob/);
    expect(await paused(acmeBob.id)).toBe('send');
    expect(await paused(betaBob.id)).toBeNull();
    expect(await telegram(user, '/pause beta/bob')).toMatch(/^In beta: Paused bob/);
  });

  it('answers approvals of each workspace without naming one; two workspaces with one name are told apart by id', async () => {
    const p = await twoWorkspaces();
    const approval1 = await ask(p.bobs.beta.key, 'telegram', String(p.user));
    expect(await press(p.user, approval1.body.pause_id)).toBe('Recorded: Yes');
    expect((await approval(p.beta.ownerKey, approval1.body.pause_id)).responder).toMatchObject({
      channel: 'telegram',
      member_id: p.beta.ownerId,
    });

    const twin = await t.workspace('ACME!');
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ telegram_user_id: String(p.user) }))
      .where('id', '=', twin.ownerId)
      .execute();
    expect(await telegram(p.user, '/pause acme/bob')).toBe(
      `“acme” names 2 of your workspaces, so nothing was changed: name one by its id (${p.acme.id}, ${twin.id}).`,
    );
    expect(await telegram(p.user, '/use')).toBe(
      `You have no default workspace. Yours: ${p.acme.id}, beta, ${twin.id}. Choose one with /use <workspace>.`,
    );
  });
});
