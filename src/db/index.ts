import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import { userInfo } from 'node:os';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { batched } from '../coalesced.js';
import { PreparingClient } from './prepared.js';
import type { DB } from './schema.js';

export type Db = Kysely<DB>;
export type Tx = Transaction<DB>;

/** Like psql, connect as the OS user when the URL names none (node-postgres would rely on $USER,
 *  which services and CI often lack). */
export function pgConfig(databaseUrl: string): pg.ClientConfig {
  const url = new URL(databaseUrl);
  // The parsed connection string overrides a separate `user` option, so the name goes in the URL.
  if (!url.username && !process.env.PGUSER) url.username = userInfo().username;
  return { connectionString: url.toString() };
}

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const max = options.max ?? 10;
  // A connection, once opened, stays open (min = max): a new Postgres backend's first queries are
  // slow (its caches are cold), and the default of closing connections idle for 10 s made every
  // burst after a lull pay for that again (bench/decide.ts showed slow decisions clustered at each
  // reconnect). A dropped connection is still discarded, and the next query opens a fresh one.
  const pool = new pg.Pool({ ...pgConfig(databaseUrl), max, min: max, Client: PreparingClient });
  // A client whose connection drops (a Postgres restart) must not crash the process. An idle one
  // reports to the pool; a checked-out one between queries has no listener of the pool's, so each
  // client gets its own. The query in flight still fails (503 `unavailable`); the pool discards
  // the broken client and the next query connects afresh.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
/** node-postgres reports a dropped connection by message only. */
const UNREACHABLE_MESSAGE =
  /^Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect/;

/** The database is down, restarting or out of connections: the request may be retried, it was
 *  not at fault. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return UNREACHABLE_MESSAGE.test(err.message);
}

/** Runs fn in a transaction, or inside the caller's one: a core action and the idempotency record
 *  of the request that caused it commit together. */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Tx);
  return db.transaction().execute(fn);
}

/** batched() for each database handle: concurrent calls on one Db share a flush (one query, one
 *  commit); a call inside a transaction runs alone, in that transaction. A failed flush is retried
 *  item by item, unless the database is away (then every item fails as it would alone). */
export function batchedPerDb<T, R>(
  flush: (db: Db, items: T[]) => Promise<R[]>,
  maxItems?: number,
): (db: Db, item: T) => Promise<R | undefined> {
  const perDb = new WeakMap<Db, (item: T) => Promise<R | undefined>>();
  return (db, item) => {
    if (db.isTransaction) return flush(db, [item]).then((results) => results[0]);
    let run = perDb.get(db);
    if (!run)
      perDb.set(
        db,
        (run = batched(
          (items: T[]) => flush(db, items),
          maxItems,
          (err) => !isDatabaseUnavailable(err),
        )),
      );
    return run(item);
  };
}

/** UUIDv7: time-ordered, so `order by id` is creation order and ids make stable cursors. */
export function newId(): string {
  return uuidv7();
}

/** A UUIDv7 made by Postgres (15 has no uuidv7()): a random UUID with the millisecond clock in its
 *  first 48 bits and version 7, for rows a statement creates in numbers it alone knows. */
export const uuidv7Sql = sql`encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
  placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), 52, 1), 53, 1), 'hex')::uuid`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A stored time as the API shows it. */
export function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

/** jsonb parameters go in as text: node-postgres would turn a JS array into a Postgres array. */
export function json(value: unknown): string {
  return JSON.stringify(value);
}
