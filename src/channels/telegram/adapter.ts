// Approvals on Telegram, worker side: the question with an inline keyboard to the recipient chat,
// then, once settled anywhere, the message edited to the outcome (no keyboard). At most one
// message a second per chat and about 30 a second overall (Telegram's limits).
import { GrammyError } from 'grammy';
import type { ChannelAdapter, ChannelDeps } from '../adapter.js';
import type { PromptRow } from '../../db/schema.js';
import { askerName } from '../text.js';
import { callTelegram, notModified, telegramApi } from './api.js';
import { approvalText, keyboard, outcomeText } from './messages.js';

interface TelegramRef {
  chat_id?: number | string;
  message_id?: number;
}

export const telegramAdapter: ChannelAdapter = {
  permanent: (err) =>
    err instanceof GrammyError && err.error_code >= 400 && err.error_code < 500 && err.error_code !== 429
      ? `telegram: ${err.description}`
      : undefined,

  pace: (_row, prompt) => [
    { key: `telegram:${prompt.recipient}`, everyMs: 1_000 },
    { key: 'telegram:*', everyMs: 34 },
  ],

  async send(deps, row, prompt) {
    const text = approvalText(row, await askerName(deps.db, row));
    const sent = await callTelegram('sendMessage', () =>
      telegramApi(deps.config).sendMessage(prompt.recipient, text, { parse_mode: 'HTML', reply_markup: keyboard(row) }),
    );
    return { chat_id: sent.chat.id, message_id: sent.message_id } satisfies TelegramRef;
  },

  async settled(deps, row, prompt) {
    // Without reply_markup the keyboard goes.
    await edit(deps, prompt, outcomeText(row, await askerName(deps.db, row)));
  },

  async progress(deps, row, prompt) {
    await edit(deps, prompt, approvalText(row, await askerName(deps.db, row)), keyboard(row));
  },
};

async function edit(
  deps: ChannelDeps,
  prompt: PromptRow,
  text: string,
  replyMarkup?: ReturnType<typeof keyboard>,
): Promise<void> {
  const ref = prompt.ref as TelegramRef | null;
  if (!ref?.chat_id || !ref.message_id) return;
  try {
    await callTelegram('editMessageText', () =>
      telegramApi(deps.config).editMessageText(ref.chat_id!, ref.message_id!, text, {
        parse_mode: 'HTML',
        ...(replyMarkup ? { reply_markup: replyMarkup } : {}),
      }),
    );
  } catch (err) {
    if (notModified(err)) return;
    throw err;
  }
}
