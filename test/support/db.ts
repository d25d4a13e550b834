import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { pgConfig } from '../../src/db/index.js';
const BASE = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres';

export function testDatabaseUrl(name: string): string {
  const url = new URL(BASE);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client(pgConfig(testDatabaseUrl('postgres')));
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A new database with the full schema, for one test file. */
export async function createTestDatabase(): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `leash_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name} template ${inject('templateDb')}`);
  return { name, url: testDatabaseUrl(name), drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}
