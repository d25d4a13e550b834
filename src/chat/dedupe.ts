// Inbound vendor requests are handled once: a vendor's retry or an attacker's replay of a request
// already seen (same event id, update id, message SID or signature) changes nothing.
//
// Every chat surface's inbound path (Telegram webhook and long polling, Slack request URL and
// Socket Mode) goes through handleOnce, so they all tell the same two failures apart:
// - handling failed (the database or the vendor's API is away for a moment): the request is
//   forgotten and the caller signals a retry, so the next copy is handled;
// - the request is bad (a refusal, a value Postgres cannot read, a vendor 4xx): it stays seen and
//   is acknowledged, so it can never come back in a loop.
import type { Logger } from 'pino';
import { isDatabaseUnavailable, type Db } from '../db/index.js';

/** True the first time (source, key) is seen; false ever after (until pruned, after 7 days). */
export async function firstTime(db: Db, source: string, key: string): Promise<boolean> {
  const row = await db
    .insertInto('inbound_requests')
    .values({ source, key })
    .onConflict((oc) => oc.doNothing())
    .returning('key')
    .executeTakeFirst();
  return row !== undefined;
}

/** What became of an inbound request, and so what the vendor should be told. */
export type Outcome =
  /** Handled now: acknowledge. */
  | 'handled'
  /** Seen before: acknowledge, nothing was done. */
  | 'duplicate'
  /** Bad input: kept as seen and acknowledged; another copy is a duplicate. */
  | 'rejected'
  /** Handling failed for a passing reason: forgotten; have it sent again (or retry it here). */
  | 'retry';

export interface Inbound {
  source: string;
  key: string;
  /** Names the request in logs ("telegram update 42"). */
  what: string;
  /** The vendor's own "try again later" (its 5xx, its rate limit), on top of the database and the network. */
  vendorUnavailable?: (err: unknown) => boolean;
  /** This process retrying a request it claimed itself: claim it again even if its row outlived the
   *  failure (forgetting needs the database that just failed). */
  again?: boolean;
}

interface InboundDeps {
  db: Db;
  log: Logger;
}

/** Records the request as seen, runs `handle`, and classifies a failure (see the top of this file). */
export async function handleOnce(
  deps: InboundDeps,
  inbound: Inbound,
  handle: () => Promise<unknown>,
): Promise<Outcome> {
  try {
    if (!(await claim(deps.db, inbound))) return 'duplicate';
  } catch (err) {
    // Nothing was recorded, so there is nothing to forget.
    return failed(deps, inbound, err, false);
  }
  try {
    await handle();
    return 'handled';
  } catch (err) {
    return failed(deps, inbound, err, true);
  }
}

/** True when this request is ours to handle: the first time it is seen, or (again) ours already. */
async function claim(db: Db, { source, key, again }: Inbound): Promise<boolean> {
  const first = await firstTime(db, source, key);
  return first || again === true;
}

async function failed(deps: InboundDeps, inbound: Inbound, err: unknown, claimed: boolean): Promise<Outcome> {
  const context = { source: inbound.source, key: inbound.key, err: summary(err) };
  if (!isTransient(err, inbound.vendorUnavailable)) {
    deps.log.warn(context, `${inbound.what} is bad input: acknowledged and not retried`);
    return 'rejected';
  }
  if (claimed && !(await forget(deps.db, inbound))) {
    deps.log.error(
      context,
      `${inbound.what} failed and could not be forgotten: a retry of it will be taken for a duplicate`,
    );
  } else {
    deps.log.warn(context, `${inbound.what} failed for now: to be retried`);
  }
  return 'retry';
}

/** A failed query may leave its broken connection in the pool for one more query, and the forget
 *  is usually that query: a few quick tries reach a fresh connection. */
const FORGET_WAITS_MS = [0, 100, 400];

async function forget(db: Db, { source, key }: Inbound): Promise<boolean> {
  for (const wait of FORGET_WAITS_MS) {
    if (wait) await new Promise((r) => setTimeout(r, wait));
    try {
      await db.deleteFrom('inbound_requests').where('source', '=', source).where('key', '=', key).execute();
      return true;
    } catch (err) {
      if (!isDatabaseUnavailable(err)) return false;
    }
  }
  return false;
}

/** Node's and undici's codes for a connection that failed or timed out (the vendor's API is away). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
]);

const isNetworkError = (err: unknown) =>
  typeof (err as { code?: unknown } | null)?.code === 'string' && NETWORK_CODES.has((err as { code: string }).code);

/** Handling failed for a reason that may pass: the database, the network, or the vendor's own word. */
export function isTransient(err: unknown, vendorUnavailable: (err: unknown) => boolean = () => false): boolean {
  for (const e of causes(err)) if (isDatabaseUnavailable(e) || isNetworkError(e) || vendorUnavailable(e)) return true;
  return false;
}

/** The error and what it wraps: `cause`, grammY's `error` (BotError, HttpError), Bolt's
 *  `original` and `originals`, an AggregateError's `errors`. */
function* causes(err: unknown, depth = 0): Generator<unknown> {
  if (err === null || err === undefined || depth > 5) return;
  yield err;
  if (typeof err !== 'object') return;
  const e = err as { cause?: unknown; error?: unknown; original?: unknown; originals?: unknown; errors?: unknown };
  for (const inner of [e.cause, e.error, e.original]) yield* causes(inner, depth + 1);
  for (const list of [e.originals, e.errors])
    if (Array.isArray(list)) for (const inner of list) yield* causes(inner, depth + 1);
}

const summary = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
