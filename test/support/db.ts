import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { onServer, withDatabase } from '../../src/db/migrate.js';

const BASE = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres';

export const testDatabaseUrl = (name: string) => withDatabase(BASE, name);

export async function adminQuery(text: string): Promise<void> {
  await onServer(BASE, text);
}

/** A new database with the full schema, for one test file. */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `leash_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name} template ${inject('templateDb')}`);
  return { name, url: testDatabaseUrl(name), drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}
