// How an update from Telegram is taken, by webhook or by long polling: once per update_id,
// through the bot, with a failure classified by handleOnce (src/chat/dedupe.ts). A bad update is
// acknowledged, and a button press in one is still answered, so the presser is not left waiting.
import { Bot } from 'grammy';
import type { Update } from 'grammy/types';
import { handleOnce, type Outcome } from '../../chat/dedupe.js';
import type { Deps } from '../../deps.js';
import { telegramUnavailable } from './api.js';
import { UNKNOWN_BUTTON } from './messages.js';

/** The dedupe key of an update: update ids are per bot (the token's numeric prefix). */
export const updateKey = (token: string, updateId: number) => `${token.split(':')[0]}:${updateId}`;

export type TakeUpdate = (update: Update, again?: boolean) => Promise<Outcome>;

export function takeUpdates(deps: Deps, bot: Bot): TakeUpdate {
  const token = deps.config.telegram.botToken!;
  return async (update, again = false) => {
    const what = `telegram update ${update.update_id}`;
    const outcome = await handleOnce(
      deps,
      {
        source: 'telegram',
        key: updateKey(token, update.update_id),
        what,
        vendorUnavailable: telegramUnavailable,
        again,
      },
      () => bot.handleUpdate(update),
    );
    if (outcome === 'rejected' && update.callback_query) {
      await bot.api.answerCallbackQuery(update.callback_query.id, { text: UNKNOWN_BUTTON }).catch(() => {});
    }
    return outcome;
  };
}

/** Waits before each retry of a polled update that failed for a passing reason. */
const POLLED_RETRY_WAITS_MS = [500, 1_000, 2_000, 4_000, 8_000];

/**
 * Long polling (TELEGRAM_POLLING). grammY's loop does the fetching (offsets, 429s, confirming the
 * last offset on stop) through a second Bot that handles nothing itself: each update it fetches is
 * taken like a webhook one. Telegram counts an update as delivered at the next getUpdates whatever
 * became of it, and nobody would send it again: so a passing failure is retried here, in order,
 * before the loop goes on, and given up (logged) after about 15 s.
 */
export function startPolling(deps: Deps, bot: Bot, ready: () => Promise<void>, take: TakeUpdate): () => Promise<void> {
  const { log } = deps;
  let poller: Bot | undefined;
  let stopped = false;
  const takeWithRetries = async (update: Update) => {
    for (let attempt = 0; ; attempt++) {
      if ((await take(update, attempt > 0)) !== 'retry' || stopped) return;
      const wait = POLLED_RETRY_WAITS_MS[attempt];
      if (wait === undefined)
        return void log.error({ update: update.update_id }, 'telegram update still failing after retries; given up');
      await new Promise((r) => setTimeout(r, wait));
    }
  };
  void ready()
    .then(async () => {
      if (stopped) return;
      // The default client timeout (500 s), not the bot's 10 s: a long poll holds for 30 s.
      poller = new Bot(deps.config.telegram.botToken!, {
        botInfo: bot.botInfo,
        client: { apiRoot: deps.config.telegram.apiRoot },
      });
      poller.use((ctx) => takeWithRetries(ctx.update));
      poller.catch((err) => log.error({ err: err.message }, 'telegram polled update failed'));
      await poller.start({ drop_pending_updates: false, allowed_updates: ['message', 'callback_query'] });
    })
    .catch((err) => log.error({ err: err.message }, 'telegram long polling stopped'));
  return async () => {
    stopped = true;
    // Stopping confirms the last offset with Telegram; unreachable, it is simply re-sent later.
    await poller?.stop().catch(() => {});
  };
}
