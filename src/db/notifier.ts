// Cross-process wake-ups through Postgres LISTEN/NOTIFY. A state change does
// `select pg_notify('leash', key)` inside its transaction, so the wake-up is sent exactly when the
// change commits, from whichever process made it. One listening connection per process fans out
// to in-process subscribers. Postgres stays the record: a waiter always re-reads state after a wake-up.
import pg from 'pg';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { LeashError } from '../errors.js';
import { pgConfig, type Db } from './index.js';

export const NOTIFY_CHANNEL = 'leash';

/** A wake-up for `key` that also says what changed (`agent:<id> <event id>`): listeners of `key` get
 *  the detail, so they can read just that, and a missed one is covered by the detail-less wake-up
 *  every listener gets after a reconnect. */
export const withDetail = (key: string, detail: string) => `${key} ${detail}`;

/** Queues a wake-up for `key` that fires when the surrounding transaction commits. */
export async function notify(db: Db, key: string): Promise<void> {
  await sql`select pg_notify(${NOTIFY_CHANNEL}, ${key})`.execute(db);
}

/** Gets the wake-up's detail, if it carried one (see `withDetail`); none means "re-check everything". */
type Listener = (detail?: string) => void;
type PrefixListener = (key: string) => void;

export class Notifier {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly prefixListeners = new Set<{ prefix: string; fn: PrefixListener }>();
  private closed = false;
  /** Wakes every waiter; set while the process shuts down. */
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly databaseUrl: string,
    private readonly log: Logger,
  ) {}

  /** Calls fn on every notification for key until the returned function is called. */
  async subscribe(key: string, fn: Listener): Promise<() => void> {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(fn);
    return this.listening(() => {
      set.delete(fn);
      if (set.size === 0 && this.listeners.get(key) === set) this.listeners.delete(key);
    });
  }

  /** Calls fn(key) on every notification whose key starts with prefix (the worker hears every
   *  inbox this way) until the returned function is called. */
  async subscribePrefix(prefix: string, fn: PrefixListener): Promise<() => void> {
    const entry = { prefix, fn };
    this.prefixListeners.add(entry);
    return this.listening(() => void this.prefixListeners.delete(entry));
  }

  /** Connects for a listener just added; if that fails, removes it again and throws. */
  private async listening(unsubscribe: () => void): Promise<() => void> {
    try {
      await this.connect();
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /**
   * Resolves with check()'s first non-undefined result, re-checking on every wake-up for the key
   * (or any of the keys), or with undefined after timeoutMs. Subscribes before the first check, so a
   * change that commits between the check and the wait is never missed. Throws 503 unavailable if
   * the process shuts down meanwhile: the state is in Postgres, the caller can ask again. Rejects
   * with the signal's reason once it aborts.
   */
  async waitFor<T>(
    key: string | readonly string[],
    timeoutMs: number,
    check: () => Promise<T | undefined>,
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    let wake: () => void = () => {};
    let woken = false;
    // Marks woken too: a close() or abort that comes while check() runs finds no wait to end, and
    // the loop must not start one (it would sit out the whole timeout, holding the shutdown up).
    const waker = () => {
      woken = true;
      wake();
    };
    const unsubscribes: (() => void)[] = [];
    for (const k of typeof key === 'string' ? [key] : key) {
      try {
        unsubscribes.push(await this.subscribe(k, waker));
      } catch (err) {
        unsubscribes.forEach((u) => u());
        throw err;
      }
    }
    const deadline = Date.now() + timeoutMs;
    this.wakers.add(waker);
    signal?.addEventListener('abort', waker);
    try {
      for (;;) {
        signal?.throwIfAborted();
        if (this.closed)
          throw new LeashError('unavailable', 'Leash is restarting; ask again in a moment (nothing was lost)');
        woken = false;
        const result = await check();
        if (result !== undefined) return result;
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      this.wakers.delete(waker);
      signal?.removeEventListener('abort', waker);
      unsubscribes.forEach((u) => u());
    }
  }

  private async connect(): Promise<void> {
    if (this.client || this.closed) return;
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const client = new pg.Client(pgConfig(this.databaseUrl));
    client.on('notification', (msg) => {
      if (msg.payload) this.fire(msg.payload);
    });
    client.on('error', (err) => {
      this.log.warn({ err }, 'notifier connection lost; reconnecting');
      this.client = undefined;
      client.end().catch(() => {});
      // Wake every waiter: it re-reads state, so nothing committed while we were away is missed.
      this.fireAll();
      this.reconnect(250);
    });
    await client.connect();
    await client.query(`listen ${NOTIFY_CHANNEL}`);
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
  }

  /** Retries with backoff while anyone listens; on success wakes everyone once more, since
   *  notifications sent while disconnected are lost. */
  private reconnect(delayMs: number): void {
    setTimeout(() => {
      if (this.closed || this.client || (this.listeners.size === 0 && this.prefixListeners.size === 0)) return;
      this.connect().then(
        () => this.fireAll(),
        () => this.reconnect(Math.min(delayMs * 2, 5_000)),
      );
    }, delayMs).unref();
  }

  private fireAll(): void {
    for (const key of [...this.listeners.keys()]) this.fire(key);
    // A prefix listener cannot be told which keys it missed: the empty suffix means "re-check all".
    for (const p of [...this.prefixListeners]) p.fn(p.prefix);
  }

  private fire(payload: string): void {
    const space = payload.indexOf(' ');
    const key = space < 0 ? payload : payload.slice(0, space);
    const detail = space < 0 ? undefined : payload.slice(space + 1);
    const set = this.listeners.get(key);
    if (set) for (const fn of [...set]) fn(detail);
    for (const p of this.prefixListeners) if (key.startsWith(p.prefix)) p.fn(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.wakers]) wake();
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
