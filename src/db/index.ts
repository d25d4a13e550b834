import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import { userInfo } from 'node:os';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
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
  const pool = new pg.Pool({ ...pgConfig(databaseUrl), max: options.max ?? 10 });
  // An idle client that errors (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
}

/** Runs fn in a transaction, or inside the caller's one: a core action and the idempotency record
 *  of the request that caused it commit together. */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db as Tx);
  return db.transaction().execute(fn);
}

/** UUIDv7: time-ordered, so `order by id` is creation order and ids make stable cursors. */
export function newId(): string {
  return uuidv7();
}

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
