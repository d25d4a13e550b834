// A fake Telegram Bot API on loopback: the methods Leash calls, recorded and answered like
// Telegram does (429 with retry_after and "message is not modified" on demand).
import { randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const BOT_TOKEN = '4242:test-token-for-the-fake';
export const BOT_ID = 4242;

export interface TelegramCall {
  method: string;
  args: Record<string, any>;
  at: number;
}

export interface FakeTelegram {
  url: string;
  calls: TelegramCall[];
  /** Answer the next call of `method` with 429 and this retry_after. */
  rateLimitNext(method: string, retryAfter: number): void;
  /** Answer the next editMessageText with "message is not modified". */
  notModifiedNext(): void;
  /** Answer the next `times` calls of `method` (to chat `chatId`, if given) with this error. */
  failNext(method: string, code: number, description: string, times?: number, chatId?: string): void;
  /** Answer the next call of `method` to this chat with 429 and this retry_after. */
  rateLimitNextTo(method: string, chatId: string, retryAfter: number): void;
  /** Long polling: an update for the next getUpdates. */
  queueUpdate(update: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function startFakeTelegram(): Promise<FakeTelegram> {
  const limited = new Map<string, number>();
  let notModified = false;
  let messageId = 100;
  const queued: { update_id: number }[] = [];
  const failing = new Map<string, { code: number; description: string; times: number }>();
  const limitedTo = new Map<string, number>();
  const fake = { calls: [] as TelegramCall[] } as FakeTelegram;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const m = /^\/bot([^/]+)\/(\w+)$/.exec(req.url ?? '');
      const send = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (!m || m[1] !== BOT_TOKEN) return send(404, { ok: false, error_code: 404, description: 'Not Found' });
      const method = m[2]!;
      const args = raw ? JSON.parse(raw) : {};
      const toChat = `${method} ${args.chat_id}`;
      const retryAfter = limited.get(method) ?? limitedTo.get(toChat);
      if (retryAfter !== undefined) {
        limited.delete(method);
        limitedTo.delete(toChat);
        fake.calls.push({ method: `${method} (429)`, args, at: Date.now() });
        return send(429, {
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${retryAfter}`,
          parameters: { retry_after: retryAfter },
        });
      }
      fake.calls.push({ method, args, at: Date.now() });
      // A failure aimed at one chat is not taken by a call for another (re-armed jobs of other tests).
      const failKey = failing.has(`${method} ${args.chat_id}`) ? `${method} ${args.chat_id}` : method;
      const failure = failing.get(failKey);
      if (failure) {
        if (--failure.times <= 0) failing.delete(failKey);
        return send(failure.code, { ok: false, error_code: failure.code, description: failure.description });
      }
      if (method === 'getUpdates') {
        // A short long-poll: what is queued past the offset, or nothing after 100 ms.
        const ready = () => queued.filter((u) => u.update_id >= (args.offset ?? 0));
        if (ready().length) return send(200, { ok: true, result: ready() });
        return void setTimeout(() => send(200, { ok: true, result: ready() }), 100);
      }
      if (method === 'editMessageText' && notModified) {
        notModified = false;
        return send(400, {
          ok: false,
          error_code: 400,
          description:
            'Bad Request: message is not modified: specified new message content and reply markup are exactly the same',
        });
      }
      const result =
        method === 'getMe'
          ? {
              id: BOT_ID,
              is_bot: true,
              first_name: 'Leash',
              username: 'LeashTestBot',
              can_join_groups: true,
              can_read_all_group_messages: false,
              supports_inline_queries: false,
            }
          : method === 'sendMessage'
            ? {
                message_id: ++messageId,
                date: Math.floor(Date.now() / 1000),
                chat: { id: Number(args.chat_id), type: 'private' },
                text: args.text,
              }
            : true;
      send(200, { ok: true, result });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.rateLimitNext = (method, retryAfter) => void limited.set(method, retryAfter);
  fake.notModifiedNext = () => void (notModified = true);
  fake.failNext = (method, code, description, times = 1, chatId) =>
    void failing.set(chatId ? `${method} ${chatId}` : method, { code, description, times });
  fake.rateLimitNextTo = (method, chatId, retryAfter) => void limitedTo.set(`${method} ${chatId}`, retryAfter);
  fake.queueUpdate = (update) => void queued.push(update as { update_id: number });
  fake.close = () =>
    new Promise((r) => {
      server.close(() => r());
      // Keep-alive connections (and a long-poll in progress) would hold close() open.
      server.closeAllConnections();
    });
  return fake;
}

let updateId = randomInt(1_000_000, 2_000_000);

/** A private-chat message update as Telegram sends it (a leading /command gets its entity). */
export function tgMessage(user: number, text: string, extra: Record<string, unknown> = {}) {
  const command = /^\/\w+/.exec(text)?.[0];
  return {
    update_id: ++updateId,
    message: {
      message_id: randomInt(1_000_000),
      date: Math.floor(Date.now() / 1000),
      chat: { id: user, type: 'private' },
      from: { id: user, is_bot: false, first_name: 'Ann' },
      text,
      ...(command ? { entities: [{ type: 'bot_command', offset: 0, length: command.length }] } : {}),
      ...extra,
    },
  };
}

/** An inline-keyboard press (callback_query) on a message in `chat`. */
export function tgPress(user: number, data: string, chat = user) {
  return {
    update_id: ++updateId,
    callback_query: {
      id: `cb${updateId}`,
      from: { id: user, is_bot: false, first_name: 'Ann' },
      chat_instance: 'ci',
      data,
      message: { message_id: 7, date: 0, chat: { id: chat, type: 'private' }, text: 'q' },
    },
  };
}
