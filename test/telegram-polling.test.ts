// Long polling (TELEGRAM_POLLING=true, no webhook): the web process takes updates with getUpdates
// and handles them like webhook ones, once each.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { BOT_TOKEN, startFakeTelegram, tgMessage, tgPress } from './support/fake-telegram.js';

const tg = await startFakeTelegram();
// Registered first, so it runs last: the app stops polling before the fake goes.
afterAll(() => tg.close());
const t = useTestApp({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_POLLING: 'true', TELEGRAM_API_ROOT: tg.url });

const sentTo = (chat: number) => tg.calls.filter((c) => c.method === 'sendMessage' && Number(c.args.chat_id) === chat);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('long polling', () => {
  it('takes updates by getUpdates and answers them; there is no webhook route', async () => {
    await expect.poll(() => tg.calls.some((c) => c.method === 'getUpdates')).toBe(true);
    const user = 31337;
    tg.queueUpdate({
      update_id: 900_001,
      message: {
        message_id: 1,
        date: Math.floor(Date.now() / 1000),
        chat: { id: user, type: 'private' },
        from: { id: user, is_bot: false, first_name: 'Ann' },
        text: '/start',
        entities: [{ type: 'bot_command', offset: 0, length: 6 }],
      },
    });
    await expect
      .poll(() => tg.calls.filter((c) => c.method === 'sendMessage' && c.args.chat_id === user).length)
      .toBe(1);
    expect(tg.calls.find((c) => c.method === 'sendMessage' && c.args.chat_id === user)!.args.text).toContain(
      '/link CODE',
    );
    expect((await t.call('POST', '/telegram/webhook', { body: {} })).status).toBe(404);
  });

  // Telegram counts a polled update as delivered at the next getUpdates, whatever became of it.
  it('an update whose reply fails for a moment (Telegram 500) is retried in the process and handled once it recovers', async () => {
    const user = 31338;
    tg.failNext('sendMessage', 500, 'Internal Server Error', 1, String(user));
    tg.queueUpdate(tgMessage(user, '/start'));
    await expect.poll(() => sentTo(user).length).toBe(2);
    expect(sentTo(user)[1]!.args.text).toContain('/link CODE');
    await sleep(1_500);
    expect(sentTo(user)).toHaveLength(2);
  });

  it('a bad update is not retried: a button naming no approval is answered once, politely; a 400 from Telegram is not tried again', async () => {
    const user = 31339;
    const press = tgPress(user, `d:${'-'.repeat(36)}:0`);
    tg.queueUpdate(press);
    const answered = () =>
      tg.calls.filter(
        (c) => c.method === 'answerCallbackQuery' && c.args.callback_query_id === press.callback_query.id,
      );
    await expect.poll(() => answered().length).toBe(1);
    expect(answered()[0]!.args.text).toBe('This button is not valid (any more).');

    tg.failNext('sendMessage', 400, 'Bad Request: chat not found', 1, String(user));
    tg.queueUpdate(tgMessage(user, '/help'));
    await expect.poll(() => sentTo(user).length).toBe(1);
    await sleep(1_500);
    expect(sentTo(user)).toHaveLength(1);
    expect(answered()).toHaveLength(1);
  });
});
