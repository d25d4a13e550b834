// The Bot API client as Leash uses it (grammY's Api): base URL from TELEGRAM_API_ROOT (fakes on
// loopback in tests); a 429 becomes RetryLater at Telegram's retry_after.
import { Api, GrammyError } from 'grammy';
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
export const notModified = (err: unknown) => err instanceof GrammyError && err.description.includes('message is not modified');

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
