// The inbox as an async iterator: the WebSocket stream when it opens, long-poll sync when it
// cannot; in seq order, each message acked when the loop asks for the next one, and after a
// reconnect (which drains again from the last acked seq) whatever was already seen is dropped.
import { backoff, sleep } from './backoff.js';
import { isAbortError, LeashError } from './errors.js';
import type { Http } from './http.js';
import type { Message } from './types.js';
import { CLOSE_STOPPED, StreamConnection, type StreamHooks } from './stream.js';

export interface MessagesOptions {
  /** Ends the iteration (quietly: the loop just stops). */
  signal?: AbortSignal;
  /** Skip everything up to this seq (already handled elsewhere); they are acked. */
  after?: number;
}

export interface StreamContext {
  http: Http;
  apiKey: string | undefined;
  streamUrl: string;
  hooks: StreamHooks;
}

/** Where the iteration is: the highest seq handed out, and the highest the loop is done with. */
interface Cursor {
  seen: number;
  done: number;
  ackedByPoll: number;
}

/** After the socket could not open (a proxy without WebSockets), poll this long before trying it again. */
const POLL_FALLBACK_MS = 60_000;
const POLL_WAIT_S = 30;
const POLL_LIMIT = 100;

class CannotOpen extends Error {}

export async function* messages(ctx: StreamContext, opts: MessagesOptions = {}): AsyncGenerator<Message> {
  const { signal } = opts;
  const cursor: Cursor = { seen: opts.after ?? 0, done: opts.after ?? 0, ackedByPoll: 0 };
  const delay = backoff(250, 10_000);
  let pollUntil = 0;
  while (!signal?.aborted) {
    try {
      if (Date.now() < pollUntil) yield* pollRound(ctx, cursor, signal);
      else if ((yield* streamRound(ctx, cursor, delay, signal)) === 'stopped') return;
      else await sleep(delay.next(), signal);
    } catch (err) {
      if (isAbortError(err)) return;
      if (err instanceof CannotOpen) pollUntil = Date.now() + POLL_FALLBACK_MS;
      else if (isFinal(err)) throw err;
      else if (!(await pause(err, delay.next(), signal))) return;
    }
  }
}

/** One socket's life: yields its messages until it closes. 'stopped' when the agent was stopped. */
async function* streamRound(ctx: StreamContext, cursor: Cursor, delay: { reset(): void }, signal?: AbortSignal) {
  const conn = await openStream(ctx, signal);
  delay.reset();
  try {
    for (;;) {
      const item = await conn.next(signal);
      if (item.kind === 'closed') return item.code === CLOSE_STOPPED ? 'stopped' : 'closed';
      const { seq } = item.message;
      if (seq <= cursor.seen) {
        // A copy from before the reconnect: handled already, so ack it (as far as the loop is done).
        conn.ack(cursor.done);
        continue;
      }
      cursor.seen = seq;
      yield item.message;
      cursor.done = seq;
      conn.ack(seq);
    }
  } finally {
    conn.close();
  }
}

async function openStream(ctx: StreamContext, signal?: AbortSignal): Promise<StreamConnection> {
  try {
    return await StreamConnection.open(ctx.streamUrl, ctx.apiKey, ctx.hooks, signal);
  } catch (err) {
    // Leash's own refusals (a bad key, a stopped agent, too many waits) and the network are
    // handled by the caller; any other HTTP answer is something in between that will not upgrade.
    if (err instanceof LeashError && err.status !== 0 && !isLeashRefusal(err)) throw new CannotOpen(err.message);
    throw err;
  }
}

/** One long-poll: acks what the loop has finished, then reads after the last message seen. */
async function* pollRound(ctx: StreamContext, cursor: Cursor, signal?: AbortSignal) {
  const base = signal ? { signal } : {};
  if (cursor.done > cursor.ackedByPoll) {
    await ctx.http.call('/v1/messages/ack', { method: 'POST', body: { seq: cursor.done }, idempotent: true, ...base });
    cursor.ackedByPoll = cursor.done;
  }
  const after = cursor.seen > 0 ? cursor.seen : undefined;
  const page = await ctx.http.call<{ data: Message[] }>('/v1/messages', {
    query: { after, limit: POLL_LIMIT, wait: POLL_WAIT_S },
    idempotent: true,
    ...base,
  });
  for (const message of page.data) {
    if (message.seq <= cursor.seen) continue;
    cursor.seen = message.seq;
    yield message;
    cursor.done = message.seq;
  }
}

function isLeashRefusal(err: LeashError): boolean {
  return err.status === 401 || err.status === 403 || err.status === 429 || err.status === 503;
}

/** Refusals that no retry will change: a bad key, a stopped agent, a forbidden call. */
function isFinal(err: unknown): boolean {
  return err instanceof LeashError && (err.status === 401 || err.status === 403);
}

/** Waits before the next try (the server's Retry-After when it gave one); false when aborted. */
async function pause(err: unknown, ms: number, signal?: AbortSignal): Promise<boolean> {
  const retryAfter = err instanceof LeashError ? err.retryAfter : null;
  try {
    await sleep(retryAfter !== null ? retryAfter * 1000 + Math.random() * 250 : ms, signal);
    return true;
  } catch {
    return false;
  }
}
