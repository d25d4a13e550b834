// The Bot API client as Leash uses it (grammY's Api): base URL from TELEGRAM_API_ROOT (fakes on
// loopback in tests); a 429 becomes RetryLater at Telegram's retry_after.
import { Api, GrammyError, HttpError } from 'grammy';
import type { Config } from '../../config.js';
import { RetryLater } from '../adapter.js';

const clients = new Map<string, Api>();

export function telegramApi(config: Config): Api {
  const key = `${config.telegram.apiRoot} ${config.telegram.botToken}`;
  let api = clients.get(key);
  if (!api) {
    api = new Api(config.telegram.botToken!, { apiRoot: config.telegram.apiRoot, timeoutSeconds: 10 });
    clients.set(key, api);
  }
  return api;
}

/** Editing a message to what it already says: not an error (a repeated outcome job, say). */
export const notModified = (err: unknown) =>
  err instanceof GrammyError && err.description.includes('message is not modified');

/** Telegram away for a moment: no answer at all (grammY's HttpError: refused, reset, timed out),
 *  its 5xx, or its rate limit. Any other refusal (400 bad request, 403 blocked) is for good. */
export const telegramUnavailable = (err: unknown) =>
  err instanceof HttpError || (err instanceof GrammyError && (err.error_code >= 500 || err.error_code === 429));

/** Telegram may not start a private chat with someone who never started one with the bot, or who blocked it. */
export const cannotWritePrivately = (err: unknown) => err instanceof GrammyError && err.error_code === 403;

export async function callTelegram<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 429) {
      const after = Math.max(1, err.parameters.retry_after ?? 1);
      throw new RetryLater(Date.now() + after * 1000, `Telegram rate-limited ${what}; retrying after ${after} s`);
    }
    throw err;
  }
}
