// The Slack app against a fake Slack Web API on loopback and requests signed as Slack signs them:
// verification, replays, every command, linking, and the approval loop (post → click → update).
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { timelineCount, useTestApp } from './support/app.js';
import { confirmed, confirmHeld } from './support/identities.js';
import { clickForm, commandForm, slackSignature, startFakeSlack } from './support/fake-slack.js';
import { dropNextQueryOn } from './support/dropped-query.js';
import { startReceiver } from './support/receiver.js';
import { useWorkers } from './support/worker.js';

const SECRET = 'slack-signing-secret-for-tests';
const slack = await startFakeSlack();
const t = useTestApp({ SLACK_SIGNING_SECRET: SECRET, SLACK_BOT_TOKEN: 'xoxb-test-token', SLACK_API_URL: slack.apiUrl });
afterAll(() => slack.close());
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const TEAM = 'T0LEASH01';
const userId = () => `U${randomBytes(4).toString('hex').toUpperCase()}`;

async function post(body: string, contentType: string, headers: Record<string, string>) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/slack/events',
    payload: body,
    headers: { 'content-type': contentType, ...headers },
  });
  let json: any;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, text: res.body, json };
}

/** A slash command as Slack sends it: a signed form. */
async function command(user: string, cmd: string, text = '', extra: Record<string, string> = {}) {
  const responseUrl = `${slack.url}/respond/${randomBytes(3).toString('hex')}`;
  const form = commandForm({ team: TEAM, user, command: cmd, text, channel: 'C0CMDS', responseUrl, extra });
  const res = await post(form, 'application/x-www-form-urlencoded', slackSignature(SECRET, form));
  return {
    ...res,
    reply: res.json?.text as string | undefined,
    responseUrl: new URLSearchParams(form).get('response_url')!,
  };
}

/** A button click (block_actions), signed. */
async function click(user: string, value: string, index = 0) {
  const responseUrl = `${slack.url}/respond/click-${randomBytes(3).toString('hex')}`;
  const form = clickForm({ team: TEAM, user, value, index, channel: 'C0APPROVE', responseUrl });
  const res = await post(form, 'application/x-www-form-urlencoded', slackSignature(SECRET, form));
  return { ...res, responseUrl };
}

async function setup() {
  const ws = await t.workspace();
  const owner = userId();
  await t.deps.db
    .updateTable('members')
    .set(confirmed({ slack_team_id: TEAM, slack_user_id: owner }))
    .where('id', '=', ws.ownerId)
    .execute();
  const bob = await ws.agent('bob');
  return { ws, owner, bob };
}

const agent = (id: string) => t.deps.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const responsesTo = (url: string) => slack.responses.filter((r) => url.endsWith(r.path));

const worker = useWorkers(t);

describe('request verification', () => {
  it('refuses a forged signature, a stale or future timestamp, and missing headers, changing nothing', async () => {
    const { owner, bob } = await setup();
    const form = new URLSearchParams({
      command: '/pause',
      text: 'bob full',
      team_id: TEAM,
      user_id: owner,
      channel_id: 'C1',
    }).toString();
    const now = Math.floor(Date.now() / 1000);
    const cases: [Record<string, string>, string][] = [
      [slackSignature('not-the-secret', form), 'bad Slack signature'],
      [slackSignature(SECRET, form, now - 301), 'more than 5 minutes'],
      [slackSignature(SECRET, form, now + 301), 'more than 5 minutes'],
      [{}, 'missing Slack signature headers'],
      [{ ...slackSignature(SECRET, form), 'x-slack-request-timestamp': 'soon' }, 'malformed'],
    ];
    for (const [headers, why] of cases) {
      const res = await post(form, 'application/x-www-form-urlencoded', headers);
      expect(res.status).toBe(401);
      expect(res.json.error.message).toContain(why);
    }
    // A body changed after signing is refused too.
    const signed = slackSignature(SECRET, form);
    expect((await post(form.replace('full', 'send'), 'application/x-www-form-urlencoded', signed)).status).toBe(401);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    expect(await timelineCount(t, bob.id)).toBe(1);
  });

  it('a replayed request is acknowledged and changes nothing', async () => {
    const { owner, bob } = await setup();
    const form = new URLSearchParams({
      command: '/pause',
      text: 'bob',
      team_id: TEAM,
      user_id: owner,
      channel_id: 'C1',
      response_url: `${slack.url}/respond/r`,
    }).toString();
    const headers = slackSignature(SECRET, form);
    const first = await post(form, 'application/x-www-form-urlencoded', headers);
    expect(first.json.text).toContain('Paused bob (send)');
    // Unpaused by hand, so that a replay that got through would pause it again.
    await t.deps.db.updateTable('agents').set({ pause_mode: null, paused_at: null }).where('id', '=', bob.id).execute();
    const before = await timelineCount(t, bob.id);
    const again = await post(form, 'application/x-www-form-urlencoded', headers);
    expect([again.status, again.text]).toEqual([200, '']);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    expect(await timelineCount(t, bob.id)).toBe(before);
  });

  it('an Events API retry is handled once, whichever copy comes first (a retry header is no reason to drop it)', async () => {
    const eventId = `Ev${randomBytes(4).toString('hex').toUpperCase()}`;
    const body = JSON.stringify({
      type: 'event_callback',
      team_id: TEAM,
      event_id: eventId,
      event: { type: 'app_home_opened', user: 'U1' },
    });
    const retried = await post(body, 'application/json', {
      ...slackSignature(SECRET, body),
      'x-slack-retry-num': '1',
      'x-slack-retry-reason': 'http_timeout',
    });
    expect(retried.status).toBe(200);
    const seen = () =>
      t.deps.db
        .selectFrom('inbound_requests')
        .select('key')
        .where('source', '=', 'slack')
        .where('key', '=', eventId)
        .execute();
    expect(await seen()).toHaveLength(1);
    const again = await post(body, 'application/json', { ...slackSignature(SECRET, body), 'x-slack-retry-num': '2' });
    expect([again.status, again.text]).toEqual([200, '']);
    expect(await seen()).toHaveLength(1);
  });

  it('a database failure before the answer is a 503 and forgotten, so the same request again is handled', async () => {
    const { owner, bob } = await setup();
    const form = commandForm({
      team: TEAM,
      user: owner,
      command: '/pause',
      text: 'bob full',
      channel: 'C0CMDS',
      responseUrl: `${slack.url}/respond/outage`,
    });
    const headers = slackSignature(SECRET, form);
    const outage = await dropNextQueryOn(t.config.databaseUrl, 'members');
    cleanups.push(outage.release);
    const first = post(form, 'application/x-www-form-urlencoded', headers);
    await outage.drop();
    expect((await first).status).toBe(503);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    const again = await post(form, 'application/x-www-form-urlencoded', headers);
    expect(again.status).toBe(200);
    expect(again.json.text).toContain('Paused bob (full)');
    expect((await agent(bob.id)).pause_mode).toBe('full');
  });

  it('answers the url_verification challenge (signed)', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'c-123', token: 'x' });
    const res = await post(body, 'application/json', slackSignature(SECRET, body));
    expect(res.json).toEqual({ challenge: 'c-123' });
  });
});

describe('commands', () => {
  it('/pause <agent> full <reason…> pauses through the core, on the timeline as slack', async () => {
    const { ws, owner, bob } = await setup();
    const res = await command(owner, '/pause', 'bob full deploy freeze');
    expect(res.reply).toContain(
      'Paused bob (full) — deploy freeze. Its outbound messages are refused and inbound ones are held until unpause.',
    );
    const row = await agent(bob.id);
    expect([row.pause_mode, row.pause_reason]).toEqual(['full', 'deploy freeze']);
    const activity = await t.call('GET', `/v1/agents/${bob.id}/activity`, { key: ws.ownerKey });
    expect(activity.body.data[0]).toMatchObject({
      action: 'agent.paused',
      channel: 'slack',
      actor: { type: 'member', id: ws.ownerId },
      details: { mode: 'full', reason: 'deploy freeze' },
    });
    // The mode is optional; a word that is not a mode starts the reason.
    expect((await command(owner, '/pause', 'bob checking logs')).reply).toContain('Paused bob (send) — checking logs.');
    expect((await command(owner, '/pause', 'bob')).reply).toBe('bob is already paused (send)');
  });

  it('bad arguments get the usage line and change nothing', async () => {
    const { owner, bob } = await setup();
    const before = await timelineCount(t, bob.id);
    // Escaped for Slack's mrkdwn, so the brackets show as typed.
    expect((await command(owner, '/pause', '')).reply).toBe('Usage: /pause &lt;agent&gt; [send|full] [reason…]');
    expect((await command(owner, '/unpause', 'bob extra')).reply).toBe('Usage: /unpause &lt;agent&gt;');
    expect((await command(owner, '/stop', 'bob now')).reply).toBe('Usage: /stop &lt;agent&gt; [force]');
    expect((await command(owner, '/pause', 'nobody full')).reply).toBe('Agent nobody not found');
    expect(await timelineCount(t, bob.id)).toBe(before);
  });

  it('an unlinked Slack user is refused with how to link; a viewer is refused by role; nothing changes', async () => {
    const { ws, bob } = await setup();
    const stranger = await command(userId(), '/pause', 'bob full');
    expect(stranger.reply).toContain(
      'Your Slack account is not linked to a Leash member, or not confirmed yet, so nothing was changed.',
    );
    expect(stranger.reply).toContain('/leash link CODE');
    const viewer = userId();
    await confirmHeld(t, (await ws.member('viewer', { slack: { team_id: TEAM, user_id: viewer } })).id);
    expect((await command(viewer, '/pause', 'bob full')).reply).toBe('This needs the owner role; you are viewer');
    expect((await command(viewer, '/status', 'bob')).reply).toContain('bob: active');
    expect((await agent(bob.id)).pause_mode).toBeNull();
  });

  it('/unpause, /stop force, /status and /status <agent>', async () => {
    const { owner, bob } = await setup();
    await command(owner, '/pause', 'bob full');
    expect((await command(owner, '/status')).reply).toMatch(
      /^bob: paused \(full\) · since \d+ s ago by owner-.*@example.com · offline$/,
    );
    expect((await command(owner, '/unpause', 'bob')).reply).toMatch(/^Unpaused bob\.\nbob: active · offline$/);
    expect((await command(owner, '/unpause', 'bob')).reply).toBe('bob is not paused');
    expect((await command(owner, '/status', 'bob')).reply).toBe(
      'bob: active · offline\nopen sessions: 0 · pending approvals: 0',
    );
    expect((await command(owner, '/stop', 'bob force')).reply).toMatch(/^Stopped bob \(forced\)\./);
    expect((await agent(bob.id)).run_state).toBe('stopped');
  });

  it('/stop waits for a connected agent: the answer follows through the response_url', async () => {
    const { ws, owner } = await setup();
    const r = await startReceiver();
    cleanups.push(() => r.close());
    const carol = await ws.agent('carol', { delivery_url: `${r.url}/hook` });
    const res = await command(owner, '/stop', 'carol');
    expect(res.reply).toBe('Asked carol to stop; waiting up to 30 s for it to confirm. The result follows here.');
    expect((await agent(carol.id)).run_state).toBe('stopping');
    expect((await t.call('POST', '/v1/agents/me/stopped', { key: carol.key })).status).toBe(200);
    await expect.poll(() => responsesTo(res.responseUrl).length).toBe(1);
    expect(responsesTo(res.responseUrl)[0]!.body).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(/^Stopped carol\./),
    });
  });

  it('/leash link <code> links the Slack account; a used or wrong code is refused', async () => {
    const ws = await t.workspace();
    const approver = await ws.member('approver');
    const code = await t.call('POST', '/v1/members/me/link-codes', { key: approver.key });
    expect(code.status).toBe(201);
    expect(code.body.code).toMatch(/^[A-Z2-9]{8}$/);
    const user = userId();
    expect((await command(user, '/leash', `link ${code.body.code.toLowerCase()}`)).reply).toMatch(
      /^Linked and confirmed: this Slack account now acts as approver-.*@example.com \(approver\) in Acme\.$/,
    );
    expect((await t.call('GET', '/v1/members/me', { key: approver.key })).body.slack).toEqual({
      team_id: TEAM,
      user_id: user,
      confirmed: true,
    });
    expect((await command(userId(), '/leash', `link ${code.body.code}`)).reply).toContain('That code is not valid');
    expect((await command(user, '/leash', 'link NOPE2345')).reply).toContain('That code is not valid');
    expect((await command(user, '/leash', '')).reply).toContain('Leash commands:');
    // Agent keys get no codes.
    const agentKey = (await ws.agent('dave')).key;
    expect((await t.call('POST', '/v1/members/me/link-codes', { key: agentKey })).status).toBe(403);
  });
});

describe('approvals on Slack', () => {
  const ask = (key: string, extra: Record<string, unknown> = {}) =>
    t.call('POST', '/v1/pause', {
      key,
      body: {
        recipient: 'C0APPROVE',
        channel: 'slack',
        message: 'Send a $340 wire to <Acme>?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 600,
        metadata: { amount: 340, invoice: 'INV-7' },
        ...extra,
      },
    });
  const posts = (text: string) =>
    slack.calls.filter((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(text));
  const updates = (ts: string) => slack.calls.filter((c) => c.method === 'chat.update' && c.args.ts === ts);

  it('the full loop: posted with one button per option, clicked, updated to the outcome without buttons; a second click is told', async () => {
    const { owner, bob } = await setup();
    await worker();
    const message = `wire ${randomBytes(3).toString('hex')}`;
    const a = await ask(bob.key, { message });
    expect(a.status).toBe(201);
    await expect.poll(() => posts(message).length).toBe(1);
    const sent = posts(message)[0]!;
    expect(sent.auth).toBe('Bearer xoxb-test-token');
    expect(sent.args.channel).toBe('C0APPROVE');
    const buttons = sent.args.blocks.find((b: any) => b.type === 'actions').elements;
    expect(buttons.map((b: any) => [b.text.text, b.value])).toEqual([
      ['Approve', `${a.body.pause_id}|0`],
      ['Reject', `${a.body.pause_id}|1`],
    ]);
    expect(JSON.stringify(sent.args.blocks)).toContain('invoice: *INV-7*');
    const refOf = async () =>
      (
        await t.deps.db
          .selectFrom('prompts')
          .select('ref')
          .where('approval_id', '=', a.body.pause_id)
          .executeTakeFirstOrThrow()
      ).ref as any;
    await expect.poll(refOf).not.toBeNull();
    const ts = (await refOf()).ts;
    expect((await refOf()).channel).toBe('C0APPROVE');

    const c = await click(owner, `${a.body.pause_id}|0`, 0);
    expect(c.status).toBe(200);
    await expect
      .poll(async () => (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status)
      .toBe('responded');
    const decided = await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key });
    expect(decided.body).toMatchObject({ response_choice: 'Approve', responder: { channel: 'slack' } });
    await expect.poll(() => updates(ts).length).toBe(1);
    const update = updates(ts)[0]!;
    expect(update.args.blocks.some((b: any) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(update.args.blocks)).toMatch(/\*Approve\* — decided by owner-.*@example.com via slack/);

    // A fixed token: no auth.test round trip before each listener.
    expect(slack.calls.some((c) => c.method === 'auth.test')).toBe(false);

    const late = await click(owner, `${a.body.pause_id}|1`, 1);
    expect(late.status).toBe(200);
    await expect.poll(() => responsesTo(late.responseUrl).length).toBe(1);
    expect(responsesTo(late.responseUrl)[0]!.body.text).toMatch(/^Already decided by owner-.*: Approve$/);
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.response_choice).toBe(
      'Approve',
    );
  });

  it('a decision from another channel, a timeout and a cancel each update the Slack message', async () => {
    const { ws, bob } = await setup();
    await worker();
    const refOf = async (id: string) => {
      await expect
        .poll(
          async () =>
            (
              await t.deps.db
                .selectFrom('prompts')
                .select('ref')
                .where('approval_id', '=', id)
                .executeTakeFirstOrThrow()
            ).ref,
        )
        .not.toBeNull();
      return (
        (await t.deps.db.selectFrom('prompts').select('ref').where('approval_id', '=', id).executeTakeFirstOrThrow())
          .ref as any
      ).ts as string;
    };
    const viaApi = await ask(bob.key);
    const viaApiTs = await refOf(viaApi.body.pause_id);
    await t.call('POST', `/v1/pause/${viaApi.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Reject' } });
    await expect.poll(() => updates(viaApiTs).length, { timeout: 10_000 }).toBe(1);
    expect(JSON.stringify(updates(viaApiTs)[0]!.args.blocks)).toContain('*Reject* — decided by');
    expect(JSON.stringify(updates(viaApiTs)[0]!.args.blocks)).toContain('via api');

    // 3 s: the message must be out before the timeout, and sends to one channel are paced 1 a second
    // (the one above went just now); on a loaded machine 1 s was too close.
    const timing = await ask(bob.key, { timeout_seconds: 3, timeout_default: 'Reject' });
    const timingTs = await refOf(timing.body.pause_id);
    await expect.poll(() => updates(timingTs).length, { timeout: 10_000 }).toBe(1);
    expect(JSON.stringify(updates(timingTs)[0]!.args.blocks)).toContain('Timed out');
    expect(JSON.stringify(updates(timingTs)[0]!.args.blocks)).toContain('default: *Reject*');

    const cancelled = await ask(bob.key);
    const cancelledTs = await refOf(cancelled.body.pause_id);
    await t.call('POST', `/v1/pause/${cancelled.body.pause_id}/cancel`, { key: bob.key });
    await expect.poll(() => updates(cancelledTs).length, { timeout: 10_000 }).toBe(1);
    expect(JSON.stringify(updates(cancelledTs)[0]!.args.blocks)).toContain('Cancelled');
  });

  it('a click by an unlinked user or a viewer is refused ephemerally and decides nothing', async () => {
    const { ws, bob } = await setup();
    const a = await ask(bob.key);
    const stranger = await click(userId(), `${a.body.pause_id}|0`);
    await expect.poll(() => responsesTo(stranger.responseUrl).length).toBe(1);
    expect(responsesTo(stranger.responseUrl)[0]!.body.text).toContain('not linked');
    const viewer = userId();
    await confirmHeld(t, (await ws.member('viewer', { slack: { team_id: TEAM, user_id: viewer } })).id);
    const v = await click(viewer, `${a.body.pause_id}|0`);
    await expect.poll(() => responsesTo(v.responseUrl).length).toBe(1);
    expect(responsesTo(v.responseUrl)[0]!.body.text).toBe('This needs the approver role; you are viewer');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
  });

  it('a question naming approvers is refused to a linked approver it does not name, and decided by one it does', async () => {
    const { ws, owner, bob } = await setup();
    const listedUser = userId();
    const listed = await ws.member('approver', { slack: { team_id: TEAM, user_id: listedUser } });
    await confirmHeld(t, listed.id);
    const a = await ask(bob.key, { approvers: [listed.id] });
    const refused = await click(owner, `${a.body.pause_id}|0`);
    await expect.poll(() => responsesTo(refused.responseUrl).length).toBe(1);
    expect(responsesTo(refused.responseUrl)[0]!.body.text).toBe('Only the approvers this question names may decide it');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
    await click(listedUser, `${a.body.pause_id}|0`);
    await expect
      .poll(
        async () => (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.responder?.member_id,
      )
      .toBe(listed.id);
  });

  it('a quorum of 2: the message counts "1 of 2 approvals", a second click by the same member is refused, another settles it', async () => {
    const { ws, owner, bob } = await setup();
    await worker();
    const secondUser = userId();
    const second = await ws.member('approver', { slack: { team_id: TEAM, user_id: secondUser } });
    await confirmHeld(t, second.id);
    const message = `quorum ${randomBytes(3).toString('hex')}`;
    const a = await ask(bob.key, { message, approvals_required: 2 });
    expect(a.status).toBe(201);
    await expect.poll(() => posts(message).length).toBe(1);
    expect(JSON.stringify(posts(message)[0]!.args.blocks)).toContain('0 of 2 approvals for Approve');
    const refTs = async () =>
      (
        (
          await t.deps.db
            .selectFrom('prompts')
            .select('ref')
            .where('approval_id', '=', a.body.pause_id)
            .executeTakeFirstOrThrow()
        ).ref as { ts?: string } | null
      )?.ts;
    await expect.poll(refTs).toBeTruthy();
    const ts = (await refTs())!;
    const first = await click(owner, `${a.body.pause_id}|0`);
    await expect.poll(() => responsesTo(first.responseUrl).length).toBe(1);
    expect(responsesTo(first.responseUrl)[0]!.body.text).toBe('Recorded: Approve — 1 of 2 approvals');
    await expect.poll(() => updates(ts).length).toBe(1);
    const progress = JSON.stringify(updates(ts)[0]!.args.blocks);
    expect(progress).toContain('1 of 2 approvals for Approve');
    expect(progress).toContain('leash.decide.0'); // still answerable
    const again = await click(owner, `${a.body.pause_id}|0`);
    await expect.poll(() => responsesTo(again.responseUrl).length).toBe(1);
    expect(responsesTo(again.responseUrl)[0]!.body.text).toBe('You already voted on this question (Approve)');
    await click(secondUser, `${a.body.pause_id}|0`);
    await expect
      .poll(async () => (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status)
      .toBe('responded');
    await expect.poll(() => updates(ts).some((u) => JSON.stringify(u.args.blocks).includes('decided by'))).toBe(true);
  });

  it('with allow_text_response a click opens a note modal; submitting it decides with the note', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key, { allow_text_response: true });
    await click(owner, `${a.body.pause_id}|1`, 1);
    await expect
      .poll(
        () =>
          slack.calls.filter((c) => c.method === 'views.open' && c.args.view.private_metadata.includes(a.body.pause_id))
            .length,
      )
      .toBe(1);
    const view = slack.calls.find(
      (c) => c.method === 'views.open' && c.args.view.private_metadata.includes(a.body.pause_id),
    )!.args.view;
    expect(view.submit.text).toBe('Reject');
    const submission = {
      type: 'view_submission',
      team: { id: TEAM },
      user: { id: owner, team_id: TEAM },
      view: {
        id: 'V1',
        callback_id: 'leash.note',
        private_metadata: view.private_metadata,
        state: { values: { note: { text: { type: 'plain_text_input', value: 'Amount looks wrong' } } } },
      },
    };
    const form = new URLSearchParams({ payload: JSON.stringify(submission) }).toString();
    const res = await post(form, 'application/x-www-form-urlencoded', slackSignature(SECRET, form));
    expect(res.status).toBe(200);
    const got = await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key });
    expect(got.body).toMatchObject({
      status: 'responded',
      response_choice: 'Reject',
      response_text: 'Amount looks wrong',
    });
  });

  it('an incoming-webhook recipient gets the question POSTed to its URL (such a message cannot be edited later)', async () => {
    const { bob } = await setup();
    const hook = await startReceiver();
    cleanups.push(() => hook.close());
    await worker();
    const a = await ask(bob.key, { recipient: `${hook.url}/services/T0/B0/x` });
    expect(a.status).toBe(201);
    await expect.poll(() => hook.requests.length).toBe(1);
    expect(hook.requests[0]!.path).toBe('/services/T0/B0/x');
    expect(JSON.stringify(hook.requests[0]!.json.blocks)).toContain(`${a.body.pause_id}|0`);
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('prompts')
              .select('ref')
              .where('approval_id', '=', a.body.pause_id)
              .executeTakeFirstOrThrow()
          ).ref,
      )
      .toEqual({ webhook: true });
  });

  it('someone confirmed in two workspaces answers in the approval’s own workspace', async () => {
    const { owner, bob } = await setup();
    const other = await t.workspace('Beta');
    await t.deps.db
      .updateTable('members')
      .set(confirmed({ slack_team_id: TEAM, slack_user_id: owner }))
      .where('id', '=', other.ownerId)
      .execute();
    const a = await ask(bob.key);
    await click(owner, `${a.body.pause_id}|0`, 0);
    await expect
      .poll(async () => (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status)
      .toBe('responded');
    // A command that names no workspace, with no default chosen, is refused rather than guessed.
    expect((await command(owner, '/status')).reply).toBe(
      'You are a confirmed member of 2 Leash workspaces (acme, beta), so nothing was changed: name one in the command (/status acme/) or choose a default (/leash use acme).',
    );
  });

  it('user text is escaped and clipped to Block Kit’s limits; mentions in a pause reason stay text', async () => {
    const { owner, bob } = await setup();
    await worker();
    const tag = randomBytes(3).toString('hex');
    const a = await ask(bob.key, { message: `${tag} ${'&'.repeat(1990)}`, metadata: { ['k'.repeat(300)]: 'v' } });
    await expect.poll(() => posts(tag).length).toBe(1);
    const section = posts(tag)[0]!.args.blocks[0].text.text as string;
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(section).toMatch(/&amp;…$/);
    expect(JSON.stringify(posts(tag)[0]!.args.blocks)).not.toContain('k'.repeat(41));
    expect(a.status).toBe(201);
    expect((await command(owner, '/pause', 'bob send <!here> look')).reply).toContain('&lt;!here&gt; look');
  });

  it('plain http incoming-webhook URLs are refused unless private targets are allowed', async () => {
    const { slack } = await import('../src/channels/slack/index.js');
    expect(slack.recipientProblem('http://hooks.example.com/x', {})).toContain('incoming-webhook URL');
    expect(slack.recipientProblem('https://hooks.example.com/x', {})).toBeUndefined();
    expect(slack.recipientProblem('http://127.0.0.1:9/x', { allowHttp: true })).toBeUndefined();
  });

  it('/approvals lists pending ones with their buttons', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key, { message: 'Deploy to prod?' });
    const res = await command(owner, '/approvals');
    expect(res.json.text).toContain('Deploy to prod? — Approve / Reject (bob, expires in 10 min)');
    expect(JSON.stringify(res.json.blocks)).toContain(`${a.body.pause_id}|0`);
  });

  it('a 429 is waited out (Retry-After) by the job, not retried in a loop; one channel gets at most a message a second', async () => {
    const { bob } = await setup();
    await worker();
    slack.rateLimitNext('chat.postMessage', 1, 'C0PACED');
    const tag = randomBytes(3).toString('hex');
    const started = Date.now();
    await ask(bob.key, { message: `first ${tag}`, recipient: 'C0PACED' });
    await ask(bob.key, { message: `second ${tag}`, recipient: 'C0PACED' });
    await expect.poll(() => posts(tag).length, { timeout: 10_000 }).toBe(2);
    const limitedCalls = slack.calls.filter(
      (c) => c.method === 'chat.postMessage (429)' && JSON.stringify(c.args).includes(tag),
    );
    expect(limitedCalls).toHaveLength(1);
    const [p1, p2] = posts(tag).map((c) => c.at);
    expect(p1! - started).toBeGreaterThanOrEqual(900);
    expect(Math.abs(p2! - p1!)).toBeGreaterThanOrEqual(900);
  });
});
