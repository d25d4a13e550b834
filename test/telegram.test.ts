// The Telegram bot against a fake Bot API on loopback: the secret token, duplicate updates, every
// command, linking, and the approval loop (inline keyboard → press → edit), late presses, timeouts.
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testEnv, timelineCount, useTestApp } from './support/app.js';
import { confirmed, confirmHeld } from './support/identities.js';
import { BOT_ID, BOT_TOKEN, startFakeTelegram, tgMessage, tgPress } from './support/fake-telegram.js';
import { dropNextQueryOn } from './support/dropped-query.js';
import { useWorkers } from './support/worker.js';

const SECRET = 'telegram-webhook-secret-for-tests';
const tg = await startFakeTelegram();
const t = useTestApp({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET: SECRET, TELEGRAM_API_ROOT: tg.url });
afterAll(() => tg.close());
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const newUser = () => randomInt(10_000_000, 99_999_999);

async function deliver(update: Record<string, unknown>, secret: string | null = SECRET) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/telegram/webhook',
    payload: JSON.stringify(update),
    headers: {
      'content-type': 'application/json',
      ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
    },
  });
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null };
}

/** What the bot said to a chat since `from` (sendMessage texts). */
const saidTo = (chat: number, from = 0) =>
  tg.calls
    .slice(from)
    .filter((c) => c.method === 'sendMessage' && Number(c.args.chat_id) === chat)
    .map((c) => c.args.text as string);
const answers = (from = 0) => tg.calls.slice(from).filter((c) => c.method === 'answerCallbackQuery');

/** Sends a command and returns what the bot replied. */
async function say(user: number, text: string): Promise<string> {
  const from = tg.calls.length;
  const res = await deliver(tgMessage(user, text));
  expect(res.status).toBe(200);
  return saidTo(user, from).join('\n---\n');
}

async function setup() {
  const ws = await t.workspace();
  const owner = newUser();
  await t.deps.db
    .updateTable('members')
    .set(confirmed({ telegram_user_id: String(owner) }))
    .where('id', '=', ws.ownerId)
    .execute();
  const bob = await ws.agent('bob');
  return { ws, owner, bob };
}

const seen = (updateId: number) =>
  t.deps.db
    .selectFrom('inbound_requests')
    .select('key')
    .where('source', '=', 'telegram')
    .where('key', '=', `${BOT_ID}:${updateId}`)
    .execute();

const agent = (id: string) => t.deps.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const worker = useWorkers(t);

describe('the webhook', () => {
  it('refuses a wrong or missing secret token (401) without reading the update', async () => {
    const { owner, bob } = await setup();
    const update = tgMessage(owner, '/pause bob full');
    expect((await deliver(update, 'wrong')).status).toBe(401);
    expect((await deliver(update, null)).status).toBe(401);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    const seen = await t.deps.db
      .selectFrom('inbound_requests')
      .select('key')
      .where('source', '=', 'telegram')
      .where('key', '=', `${BOT_ID}:${update.update_id}`)
      .execute();
    expect(seen).toEqual([]);
  });

  it('handles a duplicate update once', async () => {
    const { owner, bob } = await setup();
    const update = tgMessage(owner, '/pause bob');
    expect((await deliver(update)).status).toBe(200);
    await t.deps.db.updateTable('agents').set({ pause_mode: null, paused_at: null }).where('id', '=', bob.id).execute();
    const before = await timelineCount(t, bob.id);
    expect((await deliver(update)).status).toBe(200);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    expect(await timelineCount(t, bob.id)).toBe(before);
  });

  it('a button or note tag names an approval only by a real UUID: 36 characters of [0-9a-f-] are not enough', async () => {
    const { DECIDE, NOTE_TAG, namedOption } = await import('../src/channels/telegram/messages.js');
    const id = '0190f5a2-7c1e-7a3b-9c4d-5e6f7a8b9c0d';
    expect(namedOption(DECIDE, `d:${id}:1`)).toEqual({ approvalId: id, option: 1 });
    expect(namedOption(NOTE_TAG, `Your answer: Approve\n#leash-note d:${id}:0`)).toEqual({ approvalId: id, option: 0 });
    for (const bad of ['-'.repeat(36), 'a'.repeat(36), `${id.slice(0, 35)}-`, id.replace(/-/g, 'a')]) {
      expect(namedOption(DECIDE, `d:${bad}:0`), bad).toBeUndefined();
      expect(namedOption(NOTE_TAG, `Your answer: Approve\n#leash-note d:${bad}:0`), bad).toBeUndefined();
    }
  });

  it('a body with the right secret that is not an update is answered 200 (Telegram would re-send anything else) and changes nothing', async () => {
    const from = tg.calls.length;
    for (const body of [{}, { update_id: 'x', message: {} }, []])
      expect(await deliver(body as Record<string, unknown>)).toEqual({ status: 200, body: { ok: true } });
    const raw = await t.app.inject({
      method: 'POST',
      url: '/telegram/webhook',
      payload: '{"update_id": 1, "message": ',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
    });
    expect(raw.statusCode).toBe(200);
    expect(tg.calls.length).toBe(from);
  });

  it('a message the API would refuse to store (a NUL in its text) is still read: answered 200, and the command answered', async () => {
    const { owner, bob } = await setup();
    const from = tg.calls.length;
    expect(await deliver(tgMessage(owner, '/status bob\u0000'))).toEqual({ status: 200, body: { ok: true } });
    expect(saidTo(owner, from)).toHaveLength(1);
    expect((await agent(bob.id)).pause_mode).toBeNull();
  });

  it('a button whose callback_data names no approval (d: and 36 dashes) is answered politely with 200, once; a re-send is a no-op', async () => {
    const { owner } = await setup();
    const update = tgPress(owner, `d:${'-'.repeat(36)}:0`);
    const from = tg.calls.length;
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect(answers(from).map((c) => c.args)).toEqual([
      { callback_query_id: update.callback_query.id, text: 'This button is not valid (any more).' },
    ]);
    expect(await seen(update.update_id)).toHaveLength(1);
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect(answers(from)).toHaveLength(1);
  });

  it('a press without data, or from a user id that is not a number, is answered and kept; nothing reaches a query with it', async () => {
    const { owner, bob } = await setup();
    const a = await t.call('POST', '/v1/pause', {
      key: bob.key,
      body: {
        recipient: '555003',
        channel: 'telegram',
        message: 'Ship it?',
        options: ['Yes', 'No'],
        timeout_seconds: 600,
      },
    });
    const game = tgPress(owner, '');
    const { data: _, ...withoutData } = game.callback_query;
    const odd = tgPress(owner, `d:${a.body.pause_id}:0`);
    const from = tg.calls.length;
    expect(await deliver({ ...game, callback_query: { ...withoutData, game_short_name: 'snake' } })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect(
      await deliver({
        ...odd,
        callback_query: { ...odd.callback_query, from: { id: 'x\u0000', is_bot: false, first_name: 'Ann' } },
      }),
    ).toEqual({ status: 200, body: { ok: true } });
    expect(answers(from).map((c) => c.args.text)).toEqual([
      'This button is not valid (any more).',
      'Send commands from a user account.',
    ]);
    expect(await seen(odd.update_id)).toHaveLength(1);
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
  });

  it('an update that fails for its own sake (Telegram refuses the reply with a 400) is answered 200 and kept: a re-send changes nothing', async () => {
    const { owner, bob } = await setup();
    tg.failNext('sendMessage', 400, 'Bad Request: chat not found', 1, String(owner));
    const update = tgMessage(owner, '/pause bob');
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect((await agent(bob.id)).pause_mode).toBe('send');
    expect(await seen(update.update_id)).toHaveLength(1);
    await t.deps.db.updateTable('agents').set({ pause_mode: null, paused_at: null }).where('id', '=', bob.id).execute();
    const from = tg.calls.length;
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect((await agent(bob.id)).pause_mode).toBeNull();
    expect(saidTo(owner, from)).toEqual([]);
  });

  it('a database failure midway is answered 503 and forgotten; Telegram’s re-send is handled', async () => {
    const { owner, bob } = await setup();
    const outage = await dropNextQueryOn(t.config.databaseUrl, 'members');
    cleanups.push(outage.release);
    const update = tgMessage(owner, '/pause bob full');
    const first = deliver(update);
    await outage.drop();
    expect((await first).status).toBe(503);
    expect(await seen(update.update_id)).toEqual([]);
    expect((await agent(bob.id)).pause_mode).toBeNull();
    const from = tg.calls.length;
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect((await agent(bob.id)).pause_mode).toBe('full');
    expect(saidTo(owner, from).join('\n')).toContain('Paused bob (full)');
  });

  it('leash telegram-webhook points the bot at PUBLIC_URL with the secret', async () => {
    const env = {
      ...process.env,
      ...testEnv(t.config.databaseUrl),
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      TELEGRAM_API_ROOT: tg.url,
      PUBLIC_URL: 'https://leash.example.test',
    };
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'telegram-webhook'], { env }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(out).toContain('https://leash.example.test/telegram/webhook');
    const call = tg.calls.findLast((c) => c.method === 'setWebhook')!;
    expect(call.args).toMatchObject({ url: 'https://leash.example.test/telegram/webhook', secret_token: SECRET });
  });
});

describe('commands', () => {
  it('/start greets with how to link and the user’s ID', async () => {
    const user = newUser();
    const reply = await say(user, '/start');
    expect(reply).toContain('/link CODE');
    expect(reply).toContain(`Telegram user ID (${user})`);
  });

  it('/link <code> links the account; unlinked users are refused and nothing changes', async () => {
    const { ws, bob } = await setup();
    const user = newUser();
    expect(await say(user, '/pause bob full')).toContain(
      'Your Telegram account is not linked to a Leash member, or not confirmed yet, so nothing was changed.',
    );
    expect((await agent(bob.id)).pause_mode).toBeNull();
    const approver = await ws.member('approver');
    const code = (await t.call('POST', '/v1/members/me/link-codes', { key: approver.key })).body.code;
    expect(await say(user, `/link ${code}`)).toMatch(
      /^Linked and confirmed: this Telegram account now acts as approver-.* \(approver\) in Acme\.$/,
    );
    expect((await t.call('GET', '/v1/members/me', { key: approver.key })).body.telegram).toEqual({
      user_id: String(user),
      confirmed: true,
    });
    expect(await say(newUser(), `/link ${code}`)).toContain('That code is not valid');
    expect(await say(user, '/link')).toBe('Usage: /link <code> (get a code with POST /v1/members/me/link-codes)');
    // An approver may read but not pause.
    expect(await say(user, '/pause bob')).toBe('This needs the owner role; you are approver');
  });

  it('/pause, /unpause, /stop force and /status call the core and say what changed; bad arguments get the usage', async () => {
    const { ws, owner, bob } = await setup();
    expect(await say(owner, '/pause bob full deploy freeze')).toContain('Paused bob (full) — deploy freeze.');
    const activity = await t.call('GET', `/v1/agents/${bob.id}/activity`, { key: ws.ownerKey });
    expect(activity.body.data[0]).toMatchObject({
      action: 'agent.paused',
      channel: 'telegram',
      actor: { id: ws.ownerId },
    });
    expect(await say(owner, '/pause bob full')).toBe('bob is already paused (full)');
    expect(await say(owner, '/status')).toMatch(/^bob: paused \(full\) · since/);
    expect(await say(owner, '/unpause bob')).toMatch(/^Unpaused bob\./);
    expect(await say(owner, '/status bob')).toBe('bob: active · offline\nopen sessions: 0 · pending approvals: 0');
    const before = await timelineCount(t, bob.id);
    expect(await say(owner, '/pause')).toBe('Usage: /pause <agent> [send|full] [reason…]');
    expect(await say(owner, '/stop bob later')).toBe('Usage: /stop <agent> [force]');
    expect(await timelineCount(t, bob.id)).toBe(before);
    expect(await say(owner, '/stop bob force')).toMatch(/^Stopped bob \(forced\)\./);
    expect((await agent(bob.id)).run_state).toBe('stopped');
  });
});

describe('approvals on Telegram', () => {
  const ask = (key: string, extra: Record<string, unknown> = {}) =>
    t.call('POST', '/v1/pause', {
      key,
      body: {
        recipient: '555001',
        channel: 'telegram',
        message: 'Send a $340 wire to <Acme>?',
        options: ['Approve', 'Reject'],
        timeout_seconds: 600,
        ...extra,
      },
    });
  const sentFor = (id: string) =>
    tg.calls.filter((c) => c.method === 'sendMessage' && JSON.stringify(c.args.reply_markup ?? {}).includes(id));
  const editsOf = (messageId: number) =>
    tg.calls.filter((c) => c.method === 'editMessageText' && c.args.message_id === messageId);
  const refOf = async (id: string) => {
    await expect
      .poll(
        async () =>
          (await t.deps.db.selectFrom('prompts').select('ref').where('approval_id', '=', id).executeTakeFirstOrThrow())
            .ref,
      )
      .not.toBeNull();
    return (await t.deps.db.selectFrom('prompts').select('ref').where('approval_id', '=', id).executeTakeFirstOrThrow())
      .ref as any;
  };

  it('the full loop: an inline keyboard, a press answered and decided, the message edited to the outcome; a late press says who decided', async () => {
    const { owner, bob } = await setup();
    await worker();
    const a = await ask(bob.key);
    expect(a.status).toBe(201);
    const ref = await refOf(a.body.pause_id);
    const sent = sentFor(a.body.pause_id)[0]!;
    expect(sent.args.chat_id).toBe('555001');
    expect(sent.args.parse_mode).toBe('HTML');
    expect(sent.args.text).toContain('Send a $340 wire to &lt;Acme&gt;?');
    const buttons = sent.args.reply_markup.inline_keyboard.flat();
    expect(buttons.map((b: any) => b.text)).toEqual(['Approve', 'Reject']);
    for (const b of buttons) expect(Buffer.byteLength(b.callback_data)).toBeLessThanOrEqual(64);

    const from = tg.calls.length;
    expect((await deliver(tgPress(owner, buttons[0].callback_data))).status).toBe(200);
    expect(answers(from).map((c) => c.args.text)).toEqual(['Recorded: Approve']);
    const got = await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key });
    expect(got.body).toMatchObject({
      status: 'responded',
      response_choice: 'Approve',
      responder: { channel: 'telegram' },
    });
    await expect.poll(() => editsOf(ref.message_id).length).toBe(1);
    const edit = editsOf(ref.message_id)[0]!;
    expect(edit.args.reply_markup).toBeUndefined();
    expect(edit.args.text).toMatch(/✅ <b>Approve<\/b> — decided by owner-.* via telegram/);

    const late = tg.calls.length;
    await deliver(tgPress(owner, buttons[1].callback_data));
    expect(answers(late)[0]!.args).toMatchObject({
      show_alert: true,
      text: expect.stringMatching(/^Already decided by owner-.*: Approve$/),
    });
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.response_choice).toBe(
      'Approve',
    );
  });

  it('a decision from another channel and a timeout edit the message; "message is not modified" is not an error', async () => {
    const { ws, bob } = await setup();
    await worker();
    const viaApi = await ask(bob.key);
    const r1 = await refOf(viaApi.body.pause_id);
    await t.call('POST', `/v1/pause/${viaApi.body.pause_id}/respond`, { key: ws.ownerKey, body: { choice: 'Reject' } });
    await expect.poll(() => editsOf(r1.message_id).length, { timeout: 10_000 }).toBe(1);
    expect(editsOf(r1.message_id)[0]!.args.text).toContain('<b>Reject</b> — decided by');

    // 3 s: the message must be out before the timeout (sends to one chat are paced 1 a second).
    const timing = await ask(bob.key, { timeout_seconds: 3, timeout_default: 'Reject' });
    const r2 = await refOf(timing.body.pause_id);
    tg.notModifiedNext();
    await expect.poll(() => editsOf(r2.message_id).length, { timeout: 10_000 }).toBe(1);
    await expect
      .poll(
        async () =>
          (
            await t.deps.db
              .selectFrom('prompts')
              .select('outcome_at')
              .where('approval_id', '=', timing.body.pause_id)
              .executeTakeFirstOrThrow()
          ).outcome_at,
      )
      .not.toBeNull();
    expect(editsOf(r2.message_id)).toHaveLength(1);
    expect(editsOf(r2.message_id)[0]!.args.text).toContain('Timed out');
  });

  it('a press by an unlinked user or a viewer is answered with the refusal and decides nothing', async () => {
    const { ws, bob } = await setup();
    const a = await ask(bob.key);
    const from = tg.calls.length;
    await deliver(tgPress(newUser(), `d:${a.body.pause_id}:0`));
    const viewer = newUser();
    await confirmHeld(t, (await ws.member('viewer', { telegram: { user_id: viewer } })).id);
    await deliver(tgPress(viewer, `d:${a.body.pause_id}:0`));
    const said = answers(from).map((c) => c.args.text);
    expect(said[0]).toContain('not linked');
    expect(said[1]).toBe('This needs the approver role; you are viewer');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
  });

  it('a question naming approvers is refused to a linked approver it does not name, and decided by one it does', async () => {
    const { ws, owner, bob } = await setup();
    const listedUser = newUser();
    const listed = await ws.member('approver', { telegram: { user_id: listedUser } });
    await confirmHeld(t, listed.id);
    const a = await ask(bob.key, { approvers: [listed.id] });
    const from = tg.calls.length;
    await deliver(tgPress(owner, `d:${a.body.pause_id}:0`));
    expect(answers(from).map((c) => c.args.text)[0]).toBe('Only the approvers this question names may decide it');
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
    await deliver(tgPress(listedUser, `d:${a.body.pause_id}:0`));
    await expect
      .poll(
        async () => (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.responder?.member_id,
      )
      .toBe(listed.id);
  });

  it('a quorum of 2: the press says "1 of 2 approvals", the message is edited to count it (keyboard kept), the same member twice is refused', async () => {
    const { ws, owner, bob } = await setup();
    await worker();
    const secondUser = newUser();
    const second = await ws.member('approver', { telegram: { user_id: secondUser } });
    await confirmHeld(t, second.id);
    const a = await ask(bob.key, { approvals_required: 2 });
    const ref = await refOf(a.body.pause_id);
    expect(sentFor(a.body.pause_id)[0]!.args.text).toContain('0 of 2 approvals for Approve');
    const from = tg.calls.length;
    await deliver(tgPress(owner, `d:${a.body.pause_id}:0`));
    await deliver(tgPress(owner, `d:${a.body.pause_id}:0`));
    expect(answers(from).map((c) => c.args.text)).toEqual([
      'Recorded: Approve — 1 of 2 approvals',
      'You already voted on this question (Approve)',
    ]);
    await expect.poll(() => editsOf(ref.message_id).length).toBe(1);
    expect(editsOf(ref.message_id)[0]!.args.text).toContain('1 of 2 approvals for Approve');
    expect(editsOf(ref.message_id)[0]!.args.reply_markup.inline_keyboard.flat()).toHaveLength(2);
    await deliver(tgPress(secondUser, `d:${a.body.pause_id}:0`));
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('responded');
    await expect.poll(() => editsOf(ref.message_id).some((e) => String(e.args.text).includes('decided by'))).toBe(true);
  });

  it('with allow_text_response a press asks for a note by force-reply; the reply decides with it', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key, { allow_text_response: true });
    const from = tg.calls.length;
    await deliver(tgPress(owner, `d:${a.body.pause_id}:1`));
    const prompt = tg.calls.slice(from).find((c) => c.method === 'sendMessage')!;
    expect(prompt.args.reply_markup).toEqual({ force_reply: true });
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
    const reply = tgMessage(owner, 'Amount looks wrong', {
      reply_to_message: {
        message_id: 9,
        date: 0,
        chat: { id: owner, type: 'private' },
        from: { id: BOT_ID, is_bot: true, first_name: 'Leash' },
        text: prompt.args.text.replace(/<\/?b>/g, ''),
      },
    });
    await deliver(reply);
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: bob.key })).body).toMatchObject({
      status: 'responded',
      response_choice: 'Reject',
      response_text: 'Amount looks wrong',
    });
    // A reply to someone else's message with the same tag is not a note.
    const b = await ask(bob.key, { allow_text_response: true });
    const forged = tgMessage(owner, 'sneaky', {
      reply_to_message: {
        message_id: 10,
        date: 0,
        chat: { id: owner, type: 'private' },
        from: { id: owner, is_bot: false, first_name: 'Ann' },
        text: `#leash-note d:${b.body.pause_id}:0`,
      },
    });
    await deliver(forged);
    expect((await t.call('GET', `/v1/pause/${b.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
  });

  it('a tag quoted in an approval’s own text is not a note prompt', async () => {
    const { owner, bob } = await setup();
    const target = await ask(bob.key, { allow_text_response: true });
    const bait = await ask(bob.key, { message: `Your answer: x\n#leash-note d:${target.body.pause_id}:0` });
    expect(bait.status).toBe(201);
    const { approvalText } = await import('../src/channels/telegram/messages.js');
    const row = await t.deps.db
      .selectFrom('approvals')
      .selectAll()
      .where('id', '=', bait.body.pause_id)
      .executeTakeFirstOrThrow();
    const shown = approvalText(row, 'bob').replace(/<[^>]+>/g, '');
    await deliver(
      tgMessage(owner, 'what is this?', {
        reply_to_message: {
          message_id: 11,
          date: 0,
          chat: { id: owner, type: 'private' },
          from: { id: BOT_ID, is_bot: true, first_name: 'Leash' },
          text: shown,
        },
      }),
    );
    expect((await t.call('GET', `/v1/pause/${target.body.pause_id}`, { key: bob.key })).body.status).toBe('pending');
  });

  it('a reply to a note prompt that names no approval (36 dashes) is refused politely with 200, and kept', async () => {
    const { owner } = await setup();
    const prompt = {
      message_id: 12,
      date: 0,
      chat: { id: owner, type: 'private' },
      from: { id: BOT_ID, is_bot: true, first_name: 'Leash' },
      text: `Your answer: Approve\n#leash-note d:${'-'.repeat(36)}:0`,
    };
    const update = tgMessage(owner, 'looks fine', { reply_to_message: prompt });
    const from = tg.calls.length;
    expect(await deliver(update)).toEqual({ status: 200, body: { ok: true } });
    expect(saidTo(owner, from)).toEqual(['This note prompt is not valid (any more).']);
    expect(await seen(update.update_id)).toHaveLength(1);
  });

  it('an update that fails midway is answered 503 and handled when Telegram sends it again', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key);
    // The answer fails, and so does the answer that reports the failure.
    tg.failNext('answerCallbackQuery', 500, 'Internal Server Error', 2);
    const update = tgPress(owner, `d:${a.body.pause_id}:0`);
    // The decision commits before the failing answer; the retry is told it is decided.
    expect((await deliver(update)).status).toBe(503);
    const from = tg.calls.length;
    expect((await deliver(update)).status).toBe(200);
    expect(answers(from)[0]!.args.text).toMatch(/^Already decided by owner-.*: Approve$/);
  });

  it('a chat that refuses the bot for good (403) is recorded as failed, on the timeline, and not retried', async () => {
    const { ws, bob } = await setup();
    await worker();
    tg.failNext('sendMessage', 403, 'Forbidden: bot was blocked by the user', 1, '888001');
    const a = await ask(bob.key, { recipient: '888001' });
    const delivery = async () =>
      (await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body.delivery;
    await expect.poll(delivery).toEqual([
      {
        channel: 'telegram',
        recipient: '888001',
        status: 'failed',
        sent_at: null,
        error: 'telegram: Forbidden: bot was blocked by the user',
      },
    ]);
    const failed = await t.deps.db
      .selectFrom('activity')
      .selectAll()
      .where('action', '=', 'approval.send_failed')
      .where('agent_id', '=', bob.id)
      .execute();
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toMatchObject({
      pause_id: a.body.pause_id,
      channel: 'telegram',
      recipient: '888001',
      error: 'telegram: Forbidden: bot was blocked by the user',
    });
    expect(failed[0]!.channel).toBe('telegram');
    // Still pending and answerable elsewhere; never tried again.
    expect((await t.call('GET', `/v1/pause/${a.body.pause_id}`, { key: ws.ownerKey })).body.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 300));
    expect(tg.calls.filter((c) => c.method === 'sendMessage' && c.args.chat_id === '888001')).toHaveLength(1);
  });

  it('/approvals lists pending ones with their keyboards', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key, { message: 'Deploy to prod?' });
    const from = tg.calls.length;
    await deliver(tgMessage(owner, '/approvals'));
    const listed = tg.calls
      .slice(from)
      .filter((c) => c.method === 'sendMessage' && JSON.stringify(c.args.reply_markup ?? {}).includes(a.body.pause_id));
    expect(listed).toHaveLength(1);
    expect(listed[0]!.args.text).toContain('Deploy to prod?');
  });

  it('retry_after is honoured by the job; one chat gets at most a message a second', async () => {
    const { bob } = await setup();
    await worker();
    tg.rateLimitNextTo('sendMessage', '777001', 1);
    const started = Date.now();
    const a = await ask(bob.key, { recipient: '777001' });
    const b = await ask(bob.key, { recipient: '777001' });
    await refOf(a.body.pause_id);
    await refOf(b.body.pause_id);
    const sends = tg.calls.filter((c) => c.args.chat_id === '777001');
    expect(sends.map((c) => c.method)).toEqual(['sendMessage (429)', 'sendMessage', 'sendMessage']);
    expect(sends[1]!.at - started).toBeGreaterThanOrEqual(900);
    expect(sends[2]!.at - sends[1]!.at).toBeGreaterThanOrEqual(900);
  });
});

describe('group chats', () => {
  const GROUP = -1_001_234_567;
  const inGroup = (user: number, text: string, type = 'group') =>
    tgMessage(user, text, { chat: { id: GROUP, type, title: 'Ops' } });
  const ask = (key: string, message: string) =>
    t.call('POST', '/v1/pause', {
      key,
      body: { recipient: '555002', channel: 'telegram', message, options: ['Approve', 'Reject'], timeout_seconds: 600 },
    });

  it('/approvals in a group sends the approvals to the asker’s private chat; the group only hears where they went', async () => {
    const { owner, bob } = await setup();
    const a = await ask(bob.key, 'Wire $9,000 to Initech?');
    const from = tg.calls.length;
    expect((await deliver(inGroup(owner, '/approvals'))).status).toBe(200);
    expect(saidTo(GROUP, from)).toEqual(['I sent you the answer in a private chat.']);
    const toGroup = tg.calls.slice(from).filter((c) => Number(c.args.chat_id) === GROUP);
    expect(toGroup.every((c) => c.args.reply_markup === undefined)).toBe(true);
    const privately = tg.calls
      .slice(from)
      .filter((c) => c.method === 'sendMessage' && Number(c.args.chat_id) === owner);
    expect(
      privately.some(
        (c) =>
          c.args.text.includes('Wire $9,000 to Initech?') &&
          JSON.stringify(c.args.reply_markup).includes(a.body.pause_id),
      ),
    ).toBe(true);
  });

  it('/status in a supergroup sends the agents’ state privately; the group only hears where it went', async () => {
    const { owner } = await setup();
    const from = tg.calls.length;
    expect((await deliver(inGroup(owner, '/status', 'supergroup'))).status).toBe(200);
    expect(saidTo(GROUP, from)).toEqual(['I sent you the answer in a private chat.']);
    expect(saidTo(owner, from)).toEqual(['bob: active · offline']);
    const detail = tg.calls.length;
    expect((await deliver(inGroup(owner, '/status bob', 'supergroup'))).status).toBe(200);
    expect(saidTo(GROUP, detail)).toEqual(['I sent you the answer in a private chat.']);
    expect(saidTo(owner, detail)[0]).toContain('pending approvals: 0');
  });

  it('when the bot may not write to the user privately (403), the group is told why and how to fix it, and sees nothing else', async () => {
    const { owner, bob } = await setup();
    await ask(bob.key, 'Rotate the prod keys?');
    for (const command of ['/approvals', '/status']) {
      tg.failNext('sendMessage', 403, "Forbidden: bot can't initiate conversation with a user", 1, String(owner));
      const from = tg.calls.length;
      expect((await deliver(inGroup(owner, command))).status).toBe(200);
      const said = saidTo(GROUP, from);
      expect(said).toHaveLength(1);
      expect(said[0]).toContain('I cannot write to you privately');
      expect(said[0]).toContain(`open a private chat with @LeashTestBot, press Start, and send ${command} there`);
      expect(said[0]).not.toContain('Rotate the prod keys?');
      expect(said[0]).not.toContain('bob');
    }
  });

  it('/pause in a group confirms in the group, naming only the agent it paused', async () => {
    const { ws, owner } = await setup();
    await ws.agent('carol');
    const from = tg.calls.length;
    expect((await deliver(inGroup(owner, '/pause bob full'))).status).toBe(200);
    const said = saidTo(GROUP, from);
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('Paused bob (full)');
    expect(said[0]).not.toContain('carol');
  });
});
