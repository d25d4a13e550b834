// POST /telegram/webhook: Telegram's updates. The secret token header is checked before the body
// is even parsed (wrong or missing: 401, nothing read); then each update is taken once
// (./inbound.ts). TELEGRAM_POLLING=true uses long polling instead, for development.
import type { FastifyInstance } from 'fastify';
import type { Update } from 'grammy/types';
import { createHash, timingSafeEqual } from 'node:crypto';
import sjson from 'secure-json-parse';
import type { Deps } from '../../deps.js';
import { sendError } from '../../http/errors.js';
import { createTelegramBot } from './bot.js';
import { startPolling, takeUpdates } from './inbound.js';

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Constant time, whatever the lengths or characters. */
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** The body as JSON, or undefined. Never a refusal: Telegram re-sends what is not answered 2xx, so
 *  the server-wide parser's 400s (a NUL in a message's text, say) would bring an update back forever. */
function readBody(text: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
  } catch {
    return undefined;
  }
}

export async function registerTelegram(app: FastifyInstance, deps: Deps): Promise<void> {
  const { botToken, webhookSecret, polling } = deps.config.telegram;
  if (!botToken) return;
  const bot = createTelegramBot(deps);
  // getMe once, lazily (Telegram may be unreachable at boot): the bot needs its own id and name.
  let ready: Promise<void> | undefined;
  const init = () => (ready ??= bot.init().catch((err) => ((ready = undefined), Promise.reject(err))));
  const take = takeUpdates(deps, bot);

  if (polling) {
    const stop = startPolling(deps, bot, init, take);
    app.addHook('onClose', stop);
  }
  if (!webhookSecret) return;

  await app.register(async (scope) => {
    // This scope reads bodies with readBody, after the secret is checked (onRequest runs first).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, text, done) => done(null, readBody(String(text))));
    scope.post(
      '/telegram/webhook',
      {
        schema: { hide: true },
        config: { access: 'public' },
        onRequest: async (req, reply) => {
          const given = req.headers['x-telegram-bot-api-secret-token'];
          if (typeof given !== 'string' || !same(given, webhookSecret))
            return sendError(reply, 'unauthorized', 'wrong or missing X-Telegram-Bot-Api-Secret-Token');
        },
      },
      async (req, reply) => {
        const update = req.body as Update | undefined;
        if (!update || typeof update.update_id !== 'number') {
          // Telegram re-sends whatever is not answered 2xx: refusing what cannot be read would loop.
          req.log.warn('a Telegram webhook body that is not an update; ignored');
          return reply.code(200).send({ ok: true });
        }
        try {
          await init();
        } catch {
          // Telegram retries an update that was not answered 2xx.
          return sendError(reply, 'unavailable', 'cannot reach the Telegram Bot API yet');
        }
        // Telegram re-sends an update until it is answered 2xx: only a passing failure is worth that.
        if ((await take(update)) === 'retry')
          return sendError(reply, 'unavailable', 'the update could not be handled for now; retry');
        return reply.code(200).send({ ok: true });
      },
    );
  });
}
