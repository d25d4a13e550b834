import { Migrator, type MigrationResultSet } from 'kysely';
import pg from 'pg';
import { migrations } from '../../migrations/index.js';
import { createDb, pgConfig, type Db } from './index.js';

export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  // A static list (not a folder scan): it works the same under vitest, from dist/, and bundled.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const result = await migrator.migrateToLatest();
  if (result.error) throw result.error;
  return result;
}

/** The same server, another database. */
export function withDatabase(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement on the server's maintenance database (creating or dropping databases). */
export async function onServer(databaseUrl: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client(pgConfig(withDatabase(databaseUrl, 'postgres')));
  await client.connect();
  try {
    return await client.query(text, params);
  } finally {
    await client.end();
  }
}

/** Creates the database named in the URL if it does not exist yet, so a fresh machine needs no psql step. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  if (!name) return false;
  try {
    const found = await onServer(databaseUrl, 'select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await onServer(databaseUrl, `create database "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (err) {
    // Another process created it between our check and our create.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  }
}

/** A fresh machine's first start: the database is created and migrated before anything reads it.
 *  Returns the migrations it applied. */
export async function prepareDatabase(databaseUrl: string): Promise<{ created: boolean; applied: string[] }> {
  const created = await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, { max: 1 });
  try {
    const result = await migrateToLatest(db);
    return { created, applied: result.results?.map((r) => r.migrationName) ?? [] };
  } finally {
    await db.destroy();
  }
}
