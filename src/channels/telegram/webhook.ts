// POST /telegram/webhook: Telegram's updates. The secret token header is checked before the body
// is even parsed (wrong or missing: 401, nothing read); updates are deduplicated by update_id in
// the bot itself. TELEGRAM_POLLING=true uses long polling instead, for development.
import type { FastifyInstance } from 'fastify';
import type { Update } from 'grammy/types';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Deps } from '../../deps.js';
import { sendError } from '../../http/errors.js';
import { createTelegramBot, updateKey } from './bot.js';

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant time, whatever the lengths or characters. */
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export async function registerTelegram(app: FastifyInstance, deps: Deps): Promise<void> {
  const { botToken, webhookSecret, polling } = deps.config.telegram;
  if (!botToken) return;
  const bot = createTelegramBot(deps);
  // getMe once, lazily (Telegram may be unreachable at boot): the bot needs its own id and name.
  let ready: Promise<void> | undefined;
  const init = () => (ready ??= bot.init().catch((err) => ((ready = undefined), Promise.reject(err))));

  if (polling) {
    void init()
      .then(() => bot.start({ drop_pending_updates: false, allowed_updates: ['message', 'callback_query'] }))
      .catch((err) => deps.log.error({ err: err.message }, 'telegram long polling stopped'));
    // Stopping confirms the last offset with Telegram; unreachable, it is simply re-sent later.
    app.addHook('onClose', async () => void (await bot.stop().catch(() => {})));
  }
  if (!webhookSecret) return;

  app.post(
    '/telegram/webhook',
    {
      schema: { hide: true },
      config: { access: 'public' },
      onRequest: async (req, reply) => {
        const given = req.headers['x-telegram-bot-api-secret-token'];
        if (typeof given !== 'string' || !same(given, webhookSecret)) return sendError(reply, 'unauthorized', 'wrong or missing X-Telegram-Bot-Api-Secret-Token');
      },
    },
    async (req, reply) => {
      const update = req.body as Update | undefined;
      if (!update || typeof update.update_id !== 'number') return sendError(reply, 'invalid_request', 'not a Telegram update');
      try {
        await init();
      } catch {
        // Telegram retries an update that was not answered 2xx.
        return sendError(reply, 'unavailable', 'cannot reach the Telegram Bot API yet');
      }
      try {
        await bot.handleUpdate(update);
      } catch (err) {
        // Not handled: forget that we saw it, so Telegram's retry of this update is handled.
        deps.log.warn({ err: (err as Error).message, update: update.update_id }, 'telegram update failed; Telegram will retry');
        await deps.db.deleteFrom('inbound_requests').where('source', '=', 'telegram').where('key', '=', updateKey(botToken, update.update_id)).execute();
        return sendError(reply, 'unavailable', 'the update could not be handled; retry');
      }
      return reply.code(200).send({ ok: true });
    },
  );
}
