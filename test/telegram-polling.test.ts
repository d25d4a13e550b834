// Long polling (TELEGRAM_POLLING=true, no webhook): the web process takes updates with getUpdates
// and handles them like webhook ones, once each.
import { afterAll, describe, expect, it } from 'vitest';
import { useTestApp } from './support/app.js';
import { BOT_TOKEN, startFakeTelegram } from './support/fake-telegram.js';

const tg = await startFakeTelegram();
// Registered first, so it runs last: the app stops polling before the fake goes.
afterAll(() => tg.close());
const t = useTestApp({ TELEGRAM_BOT_TOKEN: BOT_TOKEN, TELEGRAM_POLLING: 'true', TELEGRAM_API_ROOT: tg.url });

describe('long polling', () => {
  it('takes updates by getUpdates and answers them; there is no webhook route', async () => {
    await expect.poll(() => tg.calls.some((c) => c.method === 'getUpdates')).toBe(true);
    const user = 31337;
    tg.queueUpdate({
      update_id: 900_001,
      message: { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: user, type: 'private' }, from: { id: user, is_bot: false, first_name: 'Ann' }, text: '/start', entities: [{ type: 'bot_command', offset: 0, length: 6 }] },
    });
    await expect.poll(() => tg.calls.filter((c) => c.method === 'sendMessage' && c.args.chat_id === user).length).toBe(1);
    expect(tg.calls.find((c) => c.method === 'sendMessage' && c.args.chat_id === user)!.args.text).toContain('/link CODE');
    expect((await t.call('POST', '/telegram/webhook', { body: {} })).status).toBe(404);
  });
});
